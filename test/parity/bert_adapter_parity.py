#!/usr/bin/python3
"""Independent PyTorch parity check for the TypeScript trainer (trainer/cli.ts).

Builds, in a temp dir, a small random BERT base (HF BertModel layout, with pooler), a random
pre-tokenized JSONL dataset whose rows have different lengths, and for each mode
(adapter / head / full) a random *init* adapter dir (adapter.safetensors + adapter_config.json).
Then:

  * reference: float64 PyTorch (plain torch, HF BertModel semantics, Houlsby adapters per
    docs/method.md) -> logits and the gradient of the mean cross-entropy over all rows
    w.r.t. every trainable tensor; float32 PyTorch the same, for comparison;
  * ours: `trainer predict` (logits) and one plain SGD step of `trainer train`
    (lr=L, no clipping, no decay, no dropout, one batch holding every row) whose
    gradient is read back as (init - trained) / L.

Error per tensor: rel_err = max|a - b| / max(max|b|, 1e-6), b = float64 PyTorch reference.
Exit 1 if any ours-vs-float64 rel_err > 1e-4 (or a CLI run / a file check fails), else 0.

Run from anywhere (the CLI runs with cwd = repo root):
    /usr/bin/python3 test/parity/bert_adapter_parity.py [--keep] [--cli "npm run --silent trainer --"]
    /usr/bin/python3 test/parity/bert_adapter_parity.py --torch-only     # PyTorch side only
Only the Python standard library and torch (with its numpy dependency, for bytes) are used: no transformers,
no safetensors package.
"""
import argparse
import hashlib
import json
import math
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOL = 1e-4
TASK = 'parity'
DEFINITION = 'rel_err = max|a - b| / max(max|b|, 1e-6) per tensor, b = float64 PyTorch reference'

# --------------------------------------------------------------------------------------------
# safetensors (written and read by hand)

_DTYPES = {
    'F32': (torch.float32, 4),
    'F64': (torch.float64, 8),
    'F16': (torch.float16, 2),
    'BF16': (torch.bfloat16, 2),
    'I64': (torch.int64, 8),
    'I32': (torch.int32, 4),
}


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> torch tensor (written as F32, little-endian, C order)."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu()
        data = t.numpy().astype('<f4').tobytes() if t.numel() else b''
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hjson += b' ' * ((8 - (8 + len(hjson)) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns (dict name -> float64 tensor, dict name -> dtype string)."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    body = raw[8 + n:]
    out, dtypes = {}, {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        dt, size = _DTYPES[info['dtype']]
        a, b = info['data_offsets']
        shape = info['shape']
        numel = math.prod(shape)
        if b - a != numel * size:
            raise ValueError(f'{path}: {name}: byte length {b - a} != {numel} x {size}')
        t = torch.frombuffer(bytearray(body[a:b]), dtype=dt) if numel else torch.zeros(0, dtype=dt)
        out[name] = t.reshape(shape).to(torch.float64)
        dtypes[name] = info['dtype']
    return out, dtypes


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Model: HF BertModel (post-LN) + Houlsby adapters + classifier, functional, any dtype.
# Parameters live in one dict keyed by exported names: `bert.<HF name>`, adapter names, `classifier.*`.

def adapter_prefix(layer, site, task=TASK):
    block = 'attention.output' if site == 'attention' else 'output'
    return f'bert.encoder.layer.{layer}.{block}.adapters.{task}'


def base_param_shapes(cfg, with_pooler=True):
    d, i_sz = cfg['hidden_size'], cfg['intermediate_size']
    s = {
        'embeddings.word_embeddings.weight': [cfg['vocab_size'], d],
        'embeddings.position_embeddings.weight': [cfg['max_position_embeddings'], d],
        'embeddings.token_type_embeddings.weight': [cfg['type_vocab_size'], d],
        'embeddings.LayerNorm.weight': [d],
        'embeddings.LayerNorm.bias': [d],
    }
    for l in range(cfg['num_hidden_layers']):
        p = f'encoder.layer.{l}'
        for proj in ('query', 'key', 'value'):
            s[f'{p}.attention.self.{proj}.weight'] = [d, d]
            s[f'{p}.attention.self.{proj}.bias'] = [d]
        s[f'{p}.attention.output.dense.weight'] = [d, d]
        s[f'{p}.attention.output.dense.bias'] = [d]
        s[f'{p}.attention.output.LayerNorm.weight'] = [d]
        s[f'{p}.attention.output.LayerNorm.bias'] = [d]
        s[f'{p}.intermediate.dense.weight'] = [i_sz, d]
        s[f'{p}.intermediate.dense.bias'] = [i_sz]
        s[f'{p}.output.dense.weight'] = [d, i_sz]
        s[f'{p}.output.dense.bias'] = [d]
        s[f'{p}.output.LayerNorm.weight'] = [d]
        s[f'{p}.output.LayerNorm.bias'] = [d]
    if with_pooler:
        s['pooler.dense.weight'] = [d, d]
        s['pooler.dense.bias'] = [d]
    return s


def adapter_param_shapes(cfg, layers, m, task=TASK):
    d = cfg['hidden_size']
    s = {}
    for l in layers:
        for site in ('attention', 'output'):
            a = adapter_prefix(l, site, task)
            s[f'{a}.adapter_down.0.weight'] = [m, d]
            s[f'{a}.adapter_down.0.bias'] = [m]
            s[f'{a}.adapter_up.weight'] = [d, m]
            s[f'{a}.adapter_up.bias'] = [d]
    return s


ACTS = {
    'gelu': lambda x: F.gelu(x),  # erf form
    'relu': F.relu,
    'swish': lambda x: x * torch.sigmoid(x),
    'tanh': torch.tanh,
}


def bert_encoder(P, cfg, input_ids, token_type_ids, attention_mask, *, adapter_layers=(), act='gelu',
                 task=TASK, dropout=0.0, training=False):
    """HF BertModel's encoder over P (dict exported-name -> tensor, all one dtype): last hidden states [B, S, d]."""
    d = cfg['hidden_size']
    h = cfg['num_attention_heads']
    hd = d // h
    eps = cfg['layer_norm_eps']
    B, S = input_ids.shape
    dt = P['bert.embeddings.word_embeddings.weight'].dtype
    drop = (lambda x: F.dropout(x, dropout, training)) if (training and dropout > 0) else (lambda x: x)
    lin = lambda x, name: F.linear(x, P[name + '.weight'], P[name + '.bias'])
    ln = lambda x, name: F.layer_norm(x, (d,), P[name + '.weight'], P[name + '.bias'], eps)
    fact = ACTS[act]

    def adapter(x, l, site):
        a = adapter_prefix(l, site, task)
        return x + lin(fact(lin(x, a + '.adapter_down.0')), a + '.adapter_up')

    pos = torch.arange(S)
    x = (P['bert.embeddings.word_embeddings.weight'][input_ids]
         + P['bert.embeddings.position_embeddings.weight'][pos][None]
         + P['bert.embeddings.token_type_embeddings.weight'][token_type_ids])
    x = drop(ln(x, 'bert.embeddings.LayerNorm'))
    # HF extended attention mask: (1 - mask) * finfo(float32).min, broadcast over heads and queries.
    ext = (1.0 - attention_mask.to(dt))[:, None, None, :] * torch.finfo(torch.float32).min
    for l in range(cfg['num_hidden_layers']):
        p = f'bert.encoder.layer.{l}'
        split = lambda t: t.view(B, S, h, hd).transpose(1, 2)
        q = split(lin(x, f'{p}.attention.self.query'))
        k = split(lin(x, f'{p}.attention.self.key'))
        v = split(lin(x, f'{p}.attention.self.value'))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + ext
        probs = drop(torch.softmax(scores, dim=-1))
        ctx = (probs @ v).transpose(1, 2).reshape(B, S, d)
        a = drop(lin(ctx, f'{p}.attention.output.dense'))
        if l in adapter_layers:
            a = adapter(a, l, 'attention')
        x1 = ln(x + a, f'{p}.attention.output.LayerNorm')
        f = drop(lin(F.gelu(lin(x1, f'{p}.intermediate.dense')), f'{p}.output.dense'))
        if l in adapter_layers:
            f = adapter(f, l, 'output')
        x = ln(x1 + f, f'{p}.output.LayerNorm')
    return x


def bert_forward(P, cfg, input_ids, token_type_ids, attention_mask, *, adapter_layers, act,
                 use_pooler, task=TASK, dropout=0.0, training=False):
    """P: dict exported-name -> tensor (all one dtype). Returns logits [B, num_labels]."""
    drop = (lambda x: F.dropout(x, dropout, training)) if (training and dropout > 0) else (lambda x: x)
    lin = lambda x, name: F.linear(x, P[name + '.weight'], P[name + '.bias'])
    x = bert_encoder(P, cfg, input_ids, token_type_ids, attention_mask, adapter_layers=adapter_layers, act=act,
                     task=task, dropout=dropout, training=training)
    cls = x[:, 0]
    if use_pooler:
        cls = torch.tanh(lin(cls, 'bert.pooler.dense'))
    cls = drop(cls)  # HF BertForSequenceClassification applies dropout before the classifier
    return lin(cls, 'classifier')


# --------------------------------------------------------------------------------------------
# Random fixtures

def make_config(args):
    return {
        'architectures': ['BertModel'],
        'model_type': 'bert',
        'vocab_size': args.vocab,
        'hidden_size': args.hidden,
        'num_hidden_layers': args.layers,
        'num_attention_heads': args.heads,
        'intermediate_size': args.intermediate,
        'hidden_act': 'gelu',
        'hidden_dropout_prob': 0.1,
        'attention_probs_dropout_prob': 0.1,
        'max_position_embeddings': args.max_pos,
        'type_vocab_size': 2,
        'layer_norm_eps': 1e-12,
        'initializer_range': 0.02,
        'pad_token_id': 0,
    }


def random_base(cfg, g):
    """float32 tensors, HF names (no prefix); non-trivial LN weights/biases and biases."""
    out = {}
    for name, shape in base_param_shapes(cfg).items():
        if name.endswith('LayerNorm.weight'):
            t = 1.0 + 0.2 * torch.randn(shape, generator=g)
        elif name.endswith('LayerNorm.bias'):
            t = 0.1 * torch.randn(shape, generator=g)
        elif name.endswith('.bias'):
            t = 0.05 * torch.randn(shape, generator=g)
        elif 'embeddings' in name:
            t = 0.5 * torch.randn(shape, generator=g)
        else:
            # weights ~ N(0, 1/fan_in): keeps activations O(1) so gradients reach every layer
            t = torch.randn(shape, generator=g) / math.sqrt(shape[1])
        out[name] = t.float()
    return out


def write_vocab(path, vocab_size):
    special = ['[PAD]', '[unused0]', '[CLS]', '[SEP]', '[MASK]', '[UNK]']
    toks = special[:vocab_size]
    i = 0
    while len(toks) < vocab_size:
        toks.append(f'tok{i}')
        i += 1
    with open(path, 'w') as f:
        f.write('\n'.join(toks) + '\n')


def make_dataset(path, cfg, g, lengths, num_labels):
    rows = []
    for idx, n in enumerate(lengths):
        ids = [2] + torch.randint(6, cfg['vocab_size'], (n - 2,), generator=g).tolist() + [3]
        split = max(1, n // 2)
        tt = [0] * split + [1] * (n - split)
        rows.append({'input_ids': ids, 'token_type_ids': tt, 'label': idx % num_labels})
    with open(path, 'w') as f:
        for r in rows:
            f.write(json.dumps(r) + '\n')
    return rows


def count_total(cfg, layers, m, num_labels, mode):
    n = sum(math.prod(s) for s in base_param_shapes(cfg).values())
    if mode == 'adapter':
        n += sum(math.prod(s) for s in adapter_param_shapes(cfg, layers, m).values())
    return n + num_labels * (cfg['hidden_size'] + 1)


def trainable_names(cfg, mode, layers, m, num_labels):
    """Exported names of the trainable tensors in `mode` (== the keys of adapter.safetensors)."""
    d = cfg['hidden_size']
    shapes = {'classifier.weight': [num_labels, d], 'classifier.bias': [num_labels]}
    if mode == 'full':
        shapes.update({'bert.' + k: v for k, v in base_param_shapes(cfg).items()})
    elif mode == 'adapter':
        shapes.update({'bert.' + k: v for k, v in base_param_shapes(cfg).items() if 'LayerNorm' in k})
        shapes.update(adapter_param_shapes(cfg, layers, m))
    return shapes


def make_adapter_dir(path, mode, cfg, base32, base_sha, g, args):
    """Random init adapter dir for `mode`. Returns dict exported-name -> float32 tensor (the file)."""
    os.makedirs(path, exist_ok=True)
    layers = args.adapter_layers
    m = args.bottleneck
    num_labels = args.labels
    shapes = trainable_names(cfg, mode, layers, m, num_labels)
    t = {}
    for name, shape in shapes.items():
        if name == 'classifier.weight':
            v = torch.randn(shape, generator=g) / math.sqrt(shape[1]) * 2.0
        elif name == 'classifier.bias':
            v = 0.1 * torch.randn(shape, generator=g)
        elif '.adapters.' in name:
            std = args.adapter_init_std
            v = std * torch.randn(shape, generator=g) if name.endswith('weight') else 0.05 * torch.randn(shape, generator=g)
        else:
            # a base tensor (LayerNorm in adapter mode; everything in full mode): the base value plus
            # noise, so a trainer that reads the base instead of the init adapter is caught.
            b = base32[name[len('bert.'):]]
            scale = 0.1 if 'LayerNorm' in name else 0.02
            v = b + scale * torch.randn(shape, generator=g) * (1.0 if 'LayerNorm' in name else b.abs().mean())
        t[name] = v.float()
    write_safetensors(os.path.join(path, 'adapter.safetensors'), t, {'format': 'pt'})
    d = cfg['hidden_size']
    acfg = {
        'format': 'adapter-store.adapter/v1',
        'task': TASK,
        'mode': mode,
        'adapter': ({'bottleneck': m, 'nonlinearity': args.act, 'initStd': args.adapter_init_std,
                     'layers': list(layers)} if mode == 'adapter' else None),
        'labels': [str(i) for i in range(num_labels)],
        'maxSeqLen': args.max_seq_len,
        'dropout': 0.0,
        'base': {'config': cfg, 'weightsSha256': base_sha, 'usesPooler': True, 'name': 'random-parity-bert'},
        'parameters': {'trainable': sum(x.numel() for x in t.values()),
                       'total': count_total(cfg, layers, m, num_labels, mode)},
        'createdAt': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
        'pythonAdapters': ({'architecture': 'bottleneck', 'mh_adapter': True, 'output_adapter': True,
                            'reduction_factor': d / m, 'non_linearity': args.act,
                            'leave_out': [l for l in range(cfg['num_hidden_layers']) if l not in layers]}
                           if mode == 'adapter' else None),
    }
    with open(os.path.join(path, 'adapter_config.json'), 'w') as f:
        json.dump(acfg, f, indent=2)
    return t


# --------------------------------------------------------------------------------------------
# Reference computation

def batch_tensors(rows):
    S = max(len(r['input_ids']) for r in rows)
    B = len(rows)
    ids = torch.zeros(B, S, dtype=torch.long)
    tt = torch.zeros(B, S, dtype=torch.long)
    mask = torch.zeros(B, S, dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r['input_ids'])
        ids[i, :n] = torch.tensor(r['input_ids'])
        tt[i, :n] = torch.tensor(r['token_type_ids'])
        mask[i, :n] = 1
    labels = torch.tensor([int(r['label']) for r in rows])
    return ids, tt, mask, labels


def full_params(base32, init32):
    P = {'bert.' + k: v for k, v in base32.items()}
    P.update(init32)  # the adapter file overrides (LN in adapter mode; everything in full mode)
    return P


def compute(P32, trainable, cfg, rows, dtype, args, pad_to=None):
    """Logits and grads of mean CE over all rows w.r.t. `trainable` in `dtype`."""
    P = {k: v.to(dtype).clone().requires_grad_(k in trainable) for k, v in P32.items()}
    ids, tt, mask, labels = batch_tensors(rows)
    if pad_to and pad_to > ids.shape[1]:
        padn = pad_to - ids.shape[1]
        ids, tt, mask = (F.pad(x, (0, padn)) for x in (ids, tt, mask))
    logits = bert_forward(P, cfg, ids, tt, mask, adapter_layers=set(args.adapter_layers) if args.cur_mode == 'adapter' else set(),
                          act=args.act, use_pooler=True)
    loss = F.cross_entropy(logits, labels)
    names = sorted(trainable)
    grads = torch.autograd.grad(loss, [P[n] for n in names])
    return logits.detach().to(torch.float64), {n: g.detach().to(torch.float64) for n, g in zip(names, grads)}, loss.item()


def loss_at(P64, cfg, rows, args):
    ids, tt, mask, labels = batch_tensors(rows)
    with torch.no_grad():
        logits = bert_forward(P64, cfg, ids, tt, mask,
                              adapter_layers=set(args.adapter_layers) if args.cur_mode == 'adapter' else set(),
                              act=args.act, use_pooler=True)
        return F.cross_entropy(logits, labels).item()


def fd_check(P32, grads64, cfg, rows, args, names, g):
    """Central finite differences in float64 on a few entries; returns max relative error."""
    P64 = {k: v.to(torch.float64).clone() for k, v in P32.items()}
    worst = 0.0
    lines = []
    for name in names:
        gref = grads64[name]
        flat = gref.reshape(-1)
        # the entry of largest |grad| and one random entry
        idxs = [int(flat.abs().argmax())]
        idxs.append(int(torch.randint(0, flat.numel(), (1,), generator=g)))
        for idx in idxs:
            h = 1e-6
            t = P64[name].reshape(-1)
            orig = t[idx].item()
            t[idx] = orig + h
            lp = loss_at(P64, cfg, rows, args)
            t[idx] = orig - h
            lm = loss_at(P64, cfg, rows, args)
            t[idx] = orig
            fd = (lp - lm) / (2 * h)
            an = flat[idx].item()
            err = abs(fd - an) / max(abs(an), 1e-8)
            # entries with tiny gradients are dominated by FD truncation/rounding; judge against the tensor scale
            err_scaled = abs(fd - an) / max(flat.abs().max().item(), 1e-8)
            worst = max(worst, err_scaled)
            lines.append(f'    fd  {name}[{idx}]: autograd {an:+.10e}  fd {fd:+.10e}  rel {err:.2e}  (vs tensor max {err_scaled:.2e})')
    return worst, lines


ZERO_GRAD = 1e-12


def rel_err(a, b, zero_scale=None):
    """max|a-b| / max(max|b|, 1e-6). For a tensor whose float64 gradient is (mathematically) zero -- the
    attention key bias: softmax is invariant to a per-query constant -- pass zero_scale (the largest
    |grad| of the mode) to measure its float32 round-off against that scale instead of against 1e-6."""
    m = b.abs().max().item() if b.numel() else 0.0
    if zero_scale is not None and m < ZERO_GRAD:
        return (a - b).abs().max().item() / zero_scale
    return (a - b).abs().max().item() / max(m, 1e-6)


# --------------------------------------------------------------------------------------------
# CLI

class CliError(Exception):
    pass


def run_cli(prefix, args, log, timeout):
    cmd = shlex.split(prefix) + args
    log(f'  $ {" ".join(shlex.quote(c) for c in cmd)}')
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise CliError(f'cannot start {cmd[0]!r}: {e}')
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'')
        err = (e.stderr or b'')
        out = out.decode(errors='replace') if isinstance(out, bytes) else out
        err = err.decode(errors='replace') if isinstance(err, bytes) else err
        raise CliError(f'timed out after {timeout}s\n--- stdout ---\n{out[-4000:]}\n--- stderr ---\n{err[-4000:]}')
    dt = time.time() - t0
    if p.returncode != 0:
        raise CliError(f'exit code {p.returncode} after {dt:.1f}s\n--- stdout (tail) ---\n{p.stdout[-4000:]}\n'
                       f'--- stderr (tail) ---\n{p.stderr[-6000:]}')
    log(f'    ok in {dt:.1f}s')
    return p


def read_predictions(path, n):
    with open(path) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    if len(lines) != n:
        raise CliError(f'{path}: {len(lines)} prediction lines for {n} rows')
    return lines


# --------------------------------------------------------------------------------------------

def fmt(x):
    return f'{x:.2e}'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--keep', action='store_true', help='keep the temp dir (its path is printed)')
    ap.add_argument('--cli', default='npm run --silent trainer --', help='CLI prefix, run with cwd = repo root')
    ap.add_argument('--torch-only', action='store_true', help='PyTorch side only (float32 vs float64, finite differences)')
    ap.add_argument('--modes', default='adapter,head,full')
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--vocab', type=int, default=100)
    ap.add_argument('--hidden', type=int, default=32)
    ap.add_argument('--layers', type=int, default=2)
    ap.add_argument('--heads', type=int, default=4)
    ap.add_argument('--intermediate', type=int, default=64)
    ap.add_argument('--max-pos', type=int, default=64)
    ap.add_argument('--max-seq-len', type=int, default=64)
    ap.add_argument('--bottleneck', type=int, default=8)
    ap.add_argument('--act', default='gelu', choices=sorted(ACTS))
    ap.add_argument('--adapter-layers', default=None, help='comma list; default every layer')
    ap.add_argument('--adapter-init-std', type=float, default=0.1)
    ap.add_argument('--labels', type=int, default=3)
    ap.add_argument('--lengths', default='9,5,13,7,11,4', help='row lengths (different, so padding matters)')
    ap.add_argument('--lr', type=float, default=1.0, help='SGD lr of the one train step; grad = (init - trained) / lr')
    ap.add_argument('--train-extra', default='', help='extra args appended to the train command')
    ap.add_argument('--timeout', type=int, default=900, help='seconds per CLI run')
    args = ap.parse_args()
    args.adapter_layers = (list(range(args.layers)) if args.adapter_layers is None
                           else sorted({int(x) for x in args.adapter_layers.split(',') if x.strip()}))
    modes = [m.strip() for m in args.modes.split(',') if m.strip()]

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(args.seed)
    tmp = tempfile.mkdtemp(prefix='bert-adapter-parity-')
    out_lines = []

    def log(s=''):
        print(s, flush=True)
        out_lines.append(s)

    failures = []
    overall = {'ours': 0.0, 'torch32': 0.0}
    ours_seen = False
    try:
        cfg = make_config(args)
        base_dir = os.path.join(tmp, 'base')
        os.makedirs(base_dir)
        base32 = random_base(cfg, g)
        write_safetensors(os.path.join(base_dir, 'model.safetensors'), base32, {'format': 'pt'})
        with open(os.path.join(base_dir, 'config.json'), 'w') as f:
            json.dump(cfg, f, indent=2)
        write_vocab(os.path.join(base_dir, 'vocab.txt'), cfg['vocab_size'])
        base_sha = sha256_file(os.path.join(base_dir, 'model.safetensors'))
        data_path = os.path.join(tmp, 'data.jsonl')
        lengths = [int(x) for x in args.lengths.split(',')]
        rows = make_dataset(data_path, cfg, g, lengths, args.labels)

        log(f'temp dir: {tmp}')
        log(f'base: vocab {cfg["vocab_size"]}, hidden {cfg["hidden_size"]}, layers {cfg["num_hidden_layers"]}, '
            f'heads {cfg["num_attention_heads"]}, intermediate {cfg["intermediate_size"]}, pooler yes; '
            f'adapters: bottleneck {args.bottleneck}, {args.act}, layers {args.adapter_layers}, init std {args.adapter_init_std}')
        log(f'data: {len(rows)} rows, lengths {lengths}, labels {[r["label"] for r in rows]}')
        log(f'error: {DEFINITION}; fail if ours-vs-float64 > {TOL:g}')
        cli_ok = os.path.exists(os.path.join(REPO, 'trainer', 'cli.ts')) or args.cli != ap.get_default('cli')

        for mode in modes:
            args.cur_mode = mode
            log('')
            log(f'=== mode: {mode} ' + '=' * 60)
            init_dir = os.path.join(tmp, f'init-{mode}')
            init32 = make_adapter_dir(init_dir, mode, cfg, base32, base_sha, g, args)
            P32 = full_params(base32, init32)
            trainable = set(init32)
            logits64, grads64, loss64 = compute(P32, trainable, cfg, rows, torch.float64, args)
            logits32, grads32, loss32 = compute(P32, trainable, cfg, rows, torch.float32, args)
            # padding invariance: the same rows padded further must give the same logits
            logits64p, _, _ = compute(P32, trainable, cfg, rows, torch.float64, args, pad_to=args.max_seq_len)
            pad_err = rel_err(logits64p, logits64)
            # unpadded, row by row
            per_row = torch.cat([compute(P32, trainable, cfg, [r], torch.float64, args)[0] for r in rows])
            row_err = rel_err(per_row, logits64)
            log(f'float64 loss {loss64:.10f}  float32 loss {loss32:.10f}; padding invariance: padded-to-{args.max_seq_len} '
                f'{fmt(pad_err)}, row-by-row {fmt(row_err)}')
            if pad_err > 1e-12 or row_err > 1e-12:
                failures.append(f'{mode}: reference padding invariance {pad_err:.2e}/{row_err:.2e}')

            # finite differences on a few tensors (float64)
            fd_names = ['classifier.weight']
            if mode == 'adapter':
                fd_names += [f'{adapter_prefix(args.adapter_layers[0], "attention")}.adapter_down.0.weight',
                             f'{adapter_prefix(args.adapter_layers[-1], "output")}.adapter_up.bias',
                             'bert.embeddings.LayerNorm.weight']
            elif mode == 'full':
                fd_names += ['bert.encoder.layer.0.attention.self.query.weight', 'bert.embeddings.word_embeddings.weight',
                             'bert.pooler.dense.bias']
            fd_worst, fd_lines = fd_check(P32, grads64, cfg, rows, args, fd_names, g)
            for l in fd_lines:
                log(l)
            log(f'  finite differences (float64, h=1e-6): worst |fd - autograd| / max|grad| = {fmt(fd_worst)}')
            if fd_worst > 1e-6:
                failures.append(f'{mode}: finite-difference check {fd_worst:.2e}')

            # the float32 SGD read-out a perfect float32 trainer would produce: init32 - (init32 - lr*g32) in float32
            sgd32 = {}
            for n in trainable:
                i32 = init32[n]
                trained = (i32 - (args.lr * grads32[n]).float())
                sgd32[n] = (i32.double() - trained.double()) / args.lr

            ours_logits, ours_grads, cli_error = None, None, None
            if not args.torch_only:
                if not cli_ok:
                    cli_error = f'trainer/cli.ts does not exist in {REPO}'
                else:
                    try:
                        pred_path = os.path.join(tmp, f'pred-{mode}.jsonl')
                        run_cli(args.cli, ['predict', '--base', base_dir, '--adapter', init_dir, '--data', data_path,
                                           '--out', pred_path], log, args.timeout)
                        preds = read_predictions(pred_path, len(rows))
                        ours_logits = torch.tensor([p['logits'] for p in preds], dtype=torch.float64)
                        probs = torch.tensor([p['probs'] for p in preds], dtype=torch.float64)
                        perr = (probs - torch.softmax(logits64, -1)).abs().max().item()
                        want_labels = [str(int(i)) for i in logits64.argmax(-1)]
                        got_labels = [str(p.get('label')) for p in preds]
                        log(f'  predict: probs max abs err {fmt(perr)}; labels {got_labels} (reference {want_labels})')
                        if perr > TOL:
                            failures.append(f'{mode}: predict probs err {perr:.2e}')
                        if got_labels != want_labels:
                            failures.append(f'{mode}: predicted labels {got_labels} != {want_labels}')

                        out_dir = os.path.join(tmp, f'out-{mode}')
                        targs = ['train', '--base', base_dir, '--data', data_path, '--out', out_dir, '--task', TASK]
                        if mode != 'adapter':
                            targs += ['--mode', mode]
                        targs += ['--init-adapter', init_dir, '--optimizer', 'sgd', '--lr', repr(args.lr),
                                  '--schedule', 'constant', '--warmup-ratio', '0', '--weight-decay', '0',
                                  '--max-grad-norm', '0', '--dropout', '0', '--no-shuffle', '--max-steps', '1',
                                  '--batch-size', '64'] + shlex.split(args.train_extra)
                        run_cli(args.cli, targs, log, args.timeout)
                        st_path = os.path.join(out_dir, 'adapter.safetensors')
                        if not os.path.exists(st_path):
                            raise CliError(f'{st_path} was not written; {out_dir} holds {sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else "nothing"}')
                        trained, dtypes = read_safetensors(st_path)
                        want = trainable_names(cfg, mode, args.adapter_layers, args.bottleneck, args.labels)
                        missing = sorted(set(want) - set(trained))
                        extra = sorted(set(trained) - set(want))
                        bad_shape = sorted(n for n in want if n in trained and list(trained[n].shape) != want[n])
                        bad_dtype = sorted(n for n, d in dtypes.items() if d != 'F32')
                        if missing or extra or bad_shape or bad_dtype:
                            msg = (f'{mode}: adapter.safetensors keys: missing {missing[:8]}{"..." if len(missing) > 8 else ""}, '
                                   f'unexpected {extra[:8]}{"..." if len(extra) > 8 else ""}, bad shape {bad_shape[:8]}, '
                                   f'non-F32 {bad_dtype[:8]}')
                            log('  ' + msg)
                            failures.append(msg)
                        else:
                            log(f'  adapter.safetensors: exactly the {len(want)} expected tensors (F32), no frozen weight')
                        cfg_path = os.path.join(out_dir, 'adapter_config.json')
                        if not os.path.exists(cfg_path):
                            failures.append(f'{mode}: {cfg_path} missing')
                            log(f'  adapter_config.json MISSING')
                        else:
                            with open(cfg_path) as f:
                                oc = json.load(f)
                            probs_cfg = []
                            if oc.get('format') != 'adapter-store.adapter/v1':
                                probs_cfg.append(f'format {oc.get("format")!r}')
                            if oc.get('mode') != mode:
                                probs_cfg.append(f'mode {oc.get("mode")!r}')
                            if oc.get('task') != TASK:
                                probs_cfg.append(f'task {oc.get("task")!r}')
                            if oc.get('labels') != [str(i) for i in range(args.labels)]:
                                probs_cfg.append(f'labels {oc.get("labels")!r}')
                            if (oc.get('base') or {}).get('weightsSha256') != base_sha:
                                probs_cfg.append('base.weightsSha256 differs from sha256(model.safetensors)')
                            if mode == 'adapter':
                                ad = oc.get('adapter') or {}
                                if ad.get('layers') != args.adapter_layers or ad.get('bottleneck') != args.bottleneck \
                                        or ad.get('nonlinearity') != args.act:
                                    probs_cfg.append(f'adapter {ad!r}')
                            elif oc.get('adapter') is not None:
                                probs_cfg.append(f'adapter should be null in {mode} mode')
                            ntrain = sum(x.numel() for x in init32.values())
                            if (oc.get('parameters') or {}).get('trainable') != ntrain:
                                probs_cfg.append(f'parameters.trainable {(oc.get("parameters") or {}).get("trainable")} != {ntrain}')
                            if probs_cfg:
                                failures.append(f'{mode}: adapter_config.json: ' + '; '.join(probs_cfg))
                                log('  adapter_config.json: ' + '; '.join(probs_cfg))
                            else:
                                log('  adapter_config.json: present, format/mode/task/labels/sha/trainable count as expected')
                        mpath = os.path.join(out_dir, 'metrics.json')
                        try:  # optional: the trainer's own report of the step-1 loss
                            with open(mpath) as f:
                                l1 = json.load(f)['steps'][0]['loss']
                            log(f'  metrics.json step-1 loss {l1:.10f} vs float64 {loss64:.10f} (rel {abs(l1 - loss64) / abs(loss64):.2e})')
                        except (OSError, KeyError, IndexError, TypeError, ValueError):
                            pass
                        ours_grads = {n: (init32[n].double() - trained[n]) / args.lr for n in want if n in trained
                                      and list(trained[n].shape) == want[n]}
                    except CliError as e:
                        cli_error = str(e)

            # table
            log('')
            log(f'  {"tensor":<72} {"shape":>10} {"max|ref|":>9} {"ours":>9} {"torch32":>9} {"t32-sgd":>9}')
            rows_t = [('logits', logits64, logits32, ours_logits, None)]
            for n in sorted(trainable):
                rows_t.append((f'grad {n}', grads64[n], grads32[n],
                               None if ours_grads is None else ours_grads.get(n), sgd32[n]))
            mode_worst = {'ours': 0.0, 'torch32': 0.0}
            zscale = max(v.abs().max().item() for v in grads64.values())
            zero_rows = []
            for name, ref, t32, ours, s32 in rows_t:
                zs = zscale if name.startswith('grad ') else None
                if zs is not None and ref.abs().max().item() < ZERO_GRAD:
                    zero_rows.append(name[5:])
                e32 = rel_err(t32, ref, zs)
                mode_worst['torch32'] = max(mode_worst['torch32'], e32)
                eo = None if ours is None else rel_err(ours, ref, zs)
                if eo is not None:
                    ours_seen = True
                    mode_worst['ours'] = max(mode_worst['ours'], eo)
                    if not (eo <= TOL):
                        failures.append(f'{mode}: {name}: ours vs float64 {eo:.2e} > {TOL:g}')
                flag = '' if eo is None or eo <= TOL else '  <-- FAIL'
                shape = 'x'.join(str(s) for s in ref.shape)
                log(f'  {name[-72:]:<72} {shape:>10} {ref.abs().max().item():>9.2e} '
                    f'{"-" if eo is None else fmt(eo):>9} {fmt(e32):>9} {"" if s32 is None else fmt(rel_err(s32, ref, zs)):>9}'
                    f'{" *" if name[5:] in zero_rows else ""}{flag}')
            log(f'  columns: ours = trainer CLI vs float64; torch32 = PyTorch float32 vs float64; '
                f't32-sgd = torch32 grads read back through a float32 SGD step (lr {args.lr:g}), the floor for "ours"')
            if zero_rows:
                log(f'  * float64 gradient is zero (|g| < {ZERO_GRAD:g}; the key bias cannot change softmax): '
                    f'error = max|a - b| / (largest |grad| of this mode = {zscale:.2e}) instead of / 1e-6')
            if args.torch_only:
                log(f'  max rel err ({mode}): torch32 {fmt(mode_worst["torch32"])}')
            elif cli_error is not None:
                log(f'  CLI FAILED ({mode}):')
                for l in cli_error.splitlines():
                    log('    | ' + l)
                failures.append(f'{mode}: CLI failed: {cli_error.splitlines()[0] if cli_error else ""}')
            else:
                log(f'  max rel err ({mode}): ours {fmt(mode_worst["ours"])}, torch32 {fmt(mode_worst["torch32"])}')
            for k in overall:
                overall[k] = max(overall[k], mode_worst[k])
            if mode_worst['torch32'] > TOL:
                failures.append(f'{mode}: torch float32 vs float64 {mode_worst["torch32"]:.2e} > {TOL:g} (fixture too ill-conditioned)')

        log('')
        log('=== summary ' + '=' * 64)
        log(f'({DEFINITION})')
        if args.torch_only:
            log(f'overall max rel err: torch32 vs float64 {fmt(overall["torch32"])}  (CLI not run: --torch-only)')
        else:
            ours_txt = fmt(overall['ours']) if ours_seen else 'n/a (no CLI result)'
            log(f'overall max rel err: ours vs float64 {ours_txt}, torch32 vs float64 {fmt(overall["torch32"])}')
        if failures:
            log(f'FAIL ({len(failures)}):')
            for f_ in failures:
                log('  - ' + f_)
        else:
            log('PASS')
        return 1 if failures else 0
    finally:
        if args.keep:
            print(f'kept {tmp}', flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
