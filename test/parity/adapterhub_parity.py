#!/usr/bin/python3
"""Does an exported adapter directory do in PyTorch what it does in our trainer?

A PyTorch re-implementation of the Python `adapters` library's BertAdapterModel pieces that matter here
(bottleneck adapter + classification head), written from the library's documented config fields
(adapter_config.json "config": mh_adapter, output_adapter, reduction_factor -> int(hidden // r),
non_linearity, original_ln_before/after, residual_before_ln, adapter_residual_before_ln, ln_before/after,
scaling, leave_out; head_config.json: layers, activation_function, use_pooler, bias, num_labels), with
module names equal to the library's so its files load by state-dict name, loads a directory the way
`model.load_adapter(path)` does (adapter_config.json + pytorch_adapter.bin via torch.load(weights_only=True),
head_config.json + pytorch_model_head.bin), and compares its logits with `trainer predict`'s:

  1. adapter trained with LayerNorms (the default), layernorms.safetensors applied
     (model.load_state_dict(..., strict=False), the README's one line)      -> max |diff| <= 1e-5
  2. the same without layernorms.safetensors                                   -> differs (the file matters)
  3. adapter trained with --train-layernorms false, nothing but the library's files -> max |diff| <= 1e-5

Then AdapterHub's own `adapters` library (1.1, from ../shared/hfref: adapterhub_library.py) judges what
`trainer export --format adapterhub` writes from each adapter:

  4. load_adapter(dir) with its head, from the .bin and with use_safetensors=True: no missing and no unexpected
     key (the library's loading_info and its log), the library holds exactly the files' tensors, and its logits
     equal ours (float32 both)                                                   -> max |diff| <= 1e-5
  5. adapter.safetensors and pytorch_adapter.bin hold the same keys and values (so do the two head files)
  6. the library's own save_adapter of an equal model (its add_adapter + add_classification_head from the
     directory's configs; torch.save and safetensors) writes the same weight files with the same keys and shapes
     (ours adds README.md, metrics.json and layernorms.safetensors)

Base: a random BERT (2 layers x 32, with pooler, O(1) activations, non-trivial LayerNorms); data: random pre-tokenized rows
of different lengths, each run unpadded here (padded in batches by the trainer). The reference runs in
float64; ours is float32.

    /usr/bin/python3 test/parity/adapterhub_parity.py [--keep] [--family bert|roberta]

--family roberta: a random RoBERTa base (model_type roberta, pad id 1, positions after it, no token types) and
rows framed <s> ... </s>; the adapter is exported and judged by the library alone (checks 4-6: RobertaAdapterModel,
the head add_classification_head(layers=2, activation_function='tanh') builds, heads.<task>.1 and .4); checks 1-3
re-implement BertAdapterModel only and are skipped.

Exit 1 when a check fails. Checks 1-3 use only the standard library and torch; 4-6 need the reference tree
(found at $HFREF, else ../shared/hfref beside the repository).
"""
import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from adapterhub_library import import_library, load_report, own_save, weight_files  # noqa: E402
from bert_adapter_parity import make_config, random_base, read_safetensors, write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOL = 1e-5
DTYPE = torch.float64

# transformers' ACT2FN names the library passes through (get_activation), as plain functions.
ACTIVATIONS = {
    'gelu': lambda x: F.gelu(x),
    'gelu_new': lambda x: F.gelu(x, approximate='tanh'),
    'relu': F.relu,
    'swish': F.silu,
    'silu': F.silu,
    'tanh': torch.tanh,
}


class Adapter(nn.Module):
    """One bottleneck adapter, from the library's BnConfig fields (Houlsby = DoubleSeqBn values)."""

    def __init__(self, hidden, cfg):
        super().__init__()
        self.cfg = cfg
        m = max(1, int(hidden // cfg['reduction_factor']))
        down = []
        if cfg.get('ln_before', False):
            self.adapter_norm_before = nn.LayerNorm(hidden)
            down.append(self.adapter_norm_before)
        down.append(nn.Linear(hidden, m))
        self.adapter_down = nn.Sequential(*down)  # the activation holds no weights: index 0 (or 1) is the Linear
        self.act = ACTIVATIONS[cfg['non_linearity'].lower()]
        self.adapter_up = nn.Linear(m, hidden)
        if cfg.get('ln_after', False):
            self.adapter_norm_after = nn.LayerNorm(hidden)
        s = cfg.get('scaling', 1.0)
        if not isinstance(s, float):
            raise ValueError(f'scaling {s!r}: only a float is implemented here')
        self.scaling = s

    def run(self, hidden_states, input_tensor, layer_norm):
        """pre_forward -> bottleneck -> post_forward, as the library documents the flags."""
        c = self.cfg
        residual = hidden_states if c.get('residual_before_ln', True) is True else None
        if c.get('original_ln_before', False):
            hidden_states = hidden_states + input_tensor
            if c.get('residual_before_ln', True) == 'post_add':
                residual = hidden_states
            hidden_states = layer_norm(hidden_states)
        if not c.get('residual_before_ln', True):
            residual = hidden_states
        up = self.adapter_up(self.act(self.adapter_down(hidden_states))) * self.scaling
        out = up
        if c.get('adapter_residual_before_ln', False):
            out = out + residual
        if hasattr(self, 'adapter_norm_after'):
            out = self.adapter_norm_after(out)
        if not c.get('adapter_residual_before_ln', False):
            out = out + residual
        if c.get('original_ln_after', True):
            out = layer_norm(out + input_tensor)
        return out


class SubLayerOutput(nn.Module):
    """BertSelfOutput / BertOutput: dense, then the adapter (if any) or the plain residual + LayerNorm."""

    def __init__(self, d_in, hidden, eps):
        super().__init__()
        self.dense = nn.Linear(d_in, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.adapters = nn.ModuleDict()

    def forward(self, h, input_tensor, active):
        h = self.dense(h)
        if active in self.adapters:
            return self.adapters[active].run(h, input_tensor, self.LayerNorm)
        return self.LayerNorm(h + input_tensor)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c['hidden_size'], c['layer_norm_eps']
        self.heads = c['num_attention_heads']
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        for p in ('query', 'key', 'value'):
            setattr(self.attention.self, p, nn.Linear(d, d))
        self.attention.output = SubLayerOutput(d, d, eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(d, c['intermediate_size'])
        self.output = SubLayerOutput(c['intermediate_size'], d, eps)
        self.act = ACTIVATIONS[c['hidden_act']]

    def forward(self, x, active):
        n, d = x.shape
        dh = d // self.heads
        s = self.attention.self
        split = lambda t: t.view(n, self.heads, dh).transpose(0, 1)
        q, k, v = split(s.query(x)), split(s.key(x)), split(s.value(x))
        ctx = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(dh), dim=-1) @ v
        a = self.attention.output(ctx.transpose(0, 1).reshape(n, d), x, active)
        return self.output(self.act(self.intermediate.dense(a)), a, active)


class AdapterModel(nn.Module):
    """`bert.*` + `heads.<name>.*`, the state-dict names of the library's BertAdapterModel."""

    def __init__(self, c, with_pooler):
        super().__init__()
        self.c = c
        d = c['hidden_size']
        self.bert = nn.Module()
        e = self.bert.embeddings = nn.Module()
        e.word_embeddings = nn.Embedding(c['vocab_size'], d)
        e.position_embeddings = nn.Embedding(c['max_position_embeddings'], d)
        e.token_type_embeddings = nn.Embedding(c['type_vocab_size'], d)
        e.LayerNorm = nn.LayerNorm(d, eps=c['layer_norm_eps'])
        self.bert.encoder = nn.Module()
        self.bert.encoder.layer = nn.ModuleList([Layer(c) for _ in range(c['num_hidden_layers'])])
        if with_pooler:
            self.bert.pooler = nn.Module()
            self.bert.pooler.dense = nn.Linear(d, d)
        self.heads = nn.ModuleDict()
        self.head_configs = {}
        self.active = None

    def load_adapter(self, path):
        """What load_adapter(path) does: config -> modules -> weights by name; then the head files."""
        with open(os.path.join(path, 'adapter_config.json')) as f:
            top = json.load(f)
        name, cfg = top['name'], top['config']
        assert 'version' in top, 'without "version" the library reads gelu as gelu_new'
        d = self.c['hidden_size']
        for i, layer in enumerate(self.bert.encoder.layer):
            if i in cfg.get('leave_out', []):
                continue
            if cfg['mh_adapter']:
                layer.attention.output.adapters[name] = Adapter(d, cfg)
            if cfg['output_adapter']:
                layer.output.adapters[name] = Adapter(d, cfg)
        self.to(DTYPE)
        self._load(os.path.join(path, 'pytorch_adapter.bin'), lambda k: f'.adapters.{name}.' in k)
        with open(os.path.join(path, 'head_config.json')) as f:
            head = json.load(f)
        hc = head['config']
        assert hc['head_type'] == 'classification'
        mods = []
        for i in range(hc['layers']):
            mods.append(nn.Dropout(0.0))
            if i < hc['layers'] - 1:
                mods.append(nn.Linear(d, d))
                if hc['activation_function']:
                    mods.append(nn.Module())  # not reached by our heads (layers == 1)
            else:
                mods.append(nn.Linear(d, hc['num_labels'], bias=hc.get('bias', True)))
        self.heads[head['name']] = nn.Sequential(*mods).to(DTYPE)
        self.head_configs[head['name']] = hc
        self._load(os.path.join(path, 'pytorch_model_head.bin'), lambda k: k.startswith(f'heads.{head["name"]}.'))
        return name

    def _load(self, file, belongs):
        sd = torch.load(file, map_location='cpu', weights_only=True)
        res = self.load_state_dict({k: v.to(DTYPE) for k, v in sd.items()}, strict=False)
        missing = [k for k in res.missing_keys if belongs(k)]
        if missing or res.unexpected_keys:
            raise AssertionError(f'{file}: missing {missing}, unexpected {res.unexpected_keys}')
        if not sd or not all(belongs(k) for k in sd):
            raise AssertionError(f'{file}: holds {list(sd)}')

    def set_active_adapters(self, name):
        self.active = name  # and, as in the library, the head of the same name

    def forward(self, ids):
        e = self.bert.embeddings
        n = len(ids)
        ids_t = torch.tensor(ids)
        x = e.LayerNorm(e.word_embeddings(ids_t) + e.position_embeddings(torch.arange(n)) + e.token_type_embeddings(torch.zeros(n, dtype=torch.long)))
        for layer in self.bert.encoder.layer:
            x = layer(x, self.active)
        hc = self.head_configs[self.active]
        cls = torch.tanh(self.bert.pooler.dense(x[0])) if hc['use_pooler'] else x[0]
        return self.heads[self.active](cls)


def build(base_dir, adapter_dir, with_layernorms):
    with open(os.path.join(base_dir, 'config.json')) as f:
        c = json.load(f)
    weights, _ = read_safetensors(os.path.join(base_dir, 'model.safetensors'))
    model = AdapterModel(c, with_pooler=any(k.startswith('pooler.') for k in weights)).to(DTYPE)
    res = model.bert.load_state_dict(weights, strict=False)
    assert not res.missing_keys and not res.unexpected_keys, res
    name = model.load_adapter(adapter_dir)
    model.set_active_adapters(name)
    if with_layernorms:
        ln, _ = read_safetensors(os.path.join(adapter_dir, 'layernorms.safetensors'))
        res = model.load_state_dict(ln, strict=False)  # the README's one line
        assert not res.unexpected_keys, res.unexpected_keys
    return model.eval()


def cli(args):
    cmd = ['node', '--import', 'tsx', 'trainer/cli.ts'] + args
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, 'ONNXRUNTIME_NODE_INSTALL': 'skip'})
    if p.returncode != 0:
        raise SystemExit(f'FAIL: {" ".join(cmd)}\n{p.stderr[-4000:]}')


OUR_EXTRA_FILES = {'README.md', 'metrics.json', 'layernorms.safetensors'}


def library_checks(base, trained, exported, rows, ours, with_ln, work):
    """Checks 4-6 on an exported directory; one line each; True when all hold."""
    ok = True

    def report(good, text):
        nonlocal ok
        ok &= bool(good)
        print(f'{"ok  " if good else "FAIL"} {text}')

    files = weight_files(exported)
    for a, b in (('adapter.safetensors', 'pytorch_adapter.bin'), ('model_head.safetensors', 'pytorch_model_head.bin')):
        same = a in files and b in files and files[a].keys() == files[b].keys() and all(torch.equal(files[a][k], files[b][k]) for k in files[a])
        report(same, f'{a} and {b} hold the same {len(files.get(a, {}))} tensors: {sorted(files.get(a, {}))[:2]}...')
    stray = [k for k in files.get('adapter.safetensors', {}) if '.adapters.' not in k]
    report(not stray, f'adapter.safetensors holds adapter tensors only (others: {stray})')

    for flag in (False, True):
        rep = load_report(base, exported, flag, rows, layernorms=with_ln)
        src = 'adapter.safetensors + model_head.safetensors' if flag else 'pytorch_adapter.bin + pytorch_model_head.bin'
        report(not rep['missing'] and not rep['unexpected'] and not rep['log'],
               f'load_adapter({src}): missing keys {rep["missing"]}, unexpected keys {rep["unexpected"]}, log {rep["log"]}')
        wanted = set(files['adapter.safetensors' if flag else 'pytorch_adapter.bin']) | set(files['model_head.safetensors' if flag else 'pytorch_model_head.bin'])
        report(set(rep['loaded']) == wanted, f'the library holds exactly the files\' {len(wanted)} adapter and head tensors')
        diff = (rep['logits'] - ours).abs().max().item()
        report(diff <= TOL, f'the library\'s logits ({src}{", layernorms.safetensors" if with_ln else ""}) vs ours: max |diff| = {diff:.3e} (want <= {TOL:g})')

    theirs = own_save(base, exported, os.path.join(work, f'own-save-{with_ln}'))
    their_names = set(os.listdir(theirs[False])) | set(os.listdir(theirs[True]))
    our_names = set(os.listdir(exported)) - OUR_EXTRA_FILES
    report(their_names == our_names, f'file names: library {sorted(their_names)}, ours {sorted(our_names)} (+ {sorted(OUR_EXTRA_FILES & set(os.listdir(exported)))})')
    their_files = {**weight_files(theirs[False]), **weight_files(theirs[True])}
    for f in sorted(their_files):
        mine = {k: tuple(v.shape) for k, v in files.get(f, {}).items()}
        lib = {k: tuple(v.shape) for k, v in their_files[f].items()}
        report(mine == lib, f'{f}: the library\'s save writes {len(lib)} keys, ours {len(mine)}' + ('' if mine == lib else f' (library only {sorted(set(lib) - set(mine))}, ours only {sorted(set(mine) - set(lib))})'))

    # The trained directory (a published version) keeps our adapter.safetensors with every trained tensor: fine for
    # load_adapter's default (the .bin); what use_safetensors=True reports there is shown, not judged.
    rep = load_report(base, trained, False)
    report(not rep['missing'] and not rep['unexpected'], f'trained directory, load_adapter(.bin): missing {rep["missing"]}, unexpected {rep["unexpected"]}')
    rep = load_report(base, trained, True)
    print(f'info trained directory, load_adapter(use_safetensors=True): unexpected keys {rep["unexpected"]}')
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--keep', action='store_true', help='keep the temp directory')
    ap.add_argument('--act', default='gelu', choices=['gelu', 'relu', 'swish', 'tanh'], help="the adapters' non-linearity")
    ap.add_argument('--family', default='bert', choices=['bert', 'roberta'], help='the base model family')
    args = ap.parse_args()
    adapters = import_library()
    work = tempfile.mkdtemp(prefix='adapterhub-parity-')
    ok = True
    try:
        base = os.path.join(work, 'base')
        # O(1) activations and non-trivial LayerNorms (the other parity script's base), so logits are not near 0.
        cfg = make_config(argparse.Namespace(vocab=80, hidden=32, layers=2, heads=2, intermediate=64, max_pos=40))
        if args.family == 'roberta':
            # RobertaModel's config as save_pretrained writes it: positions run from pad_token_id + 1, one token type.
            cfg.update({'architectures': ['RobertaModel'], 'model_type': 'roberta', 'pad_token_id': 1, 'bos_token_id': 0,
                        'eos_token_id': 2, 'max_position_embeddings': 42, 'type_vocab_size': 1, 'layer_norm_eps': 1e-5})
        os.makedirs(base)
        with open(os.path.join(base, 'config.json'), 'w') as f:
            json.dump(cfg, f)
        write_safetensors(os.path.join(base, 'model.safetensors'), random_base(cfg, torch.Generator().manual_seed(5)))
        rng = random.Random(3)
        rows = []
        for i in range(24):
            label = i % 2
            words = [5 + 30 * label + rng.randrange(30) for _ in range(3 + rng.randrange(20))]
            rows.append({'input_ids': [0] + words + [2] if args.family == 'roberta' else [2] + words, 'label': label})
        data = os.path.join(work, 'train.jsonl')
        with open(data, 'w') as f:
            f.write(''.join(json.dumps(r) + '\n' for r in rows))

        for ln in ('true', 'false'):
            out = os.path.join(work, f'adapter-ln-{ln}')
            # A large step so the LayerNorms move well away from the base's when they train.
            cli(['train', '--base', base, '--data', data, '--out', out, '--task', 'parity', '--lr', '5e-2', '--epochs', '4', '--batch-size', '8',
                 '--bottleneck', '6', '--adapter-layers', '0-1', '--nonlinearity', args.act, '--dropout', '0', '--seed', '1', '--train-layernorms', ln, '--quiet'])
            has_ln = os.path.exists(os.path.join(out, 'layernorms.safetensors'))
            if has_ln != (ln == 'true'):
                print(f'FAIL: layernorms.safetensors present={has_ln} with --train-layernorms {ln}')
                ok = False
            pred = os.path.join(work, f'pred-{ln}.jsonl')
            cli(['predict', '--base', base, '--adapter', out, '--data', data, '--out', pred, '--batch-size', '7'])
            with open(pred) as f:
                ours = torch.tensor([json.loads(line)['logits'] for line in f], dtype=DTYPE)
            cases = [('with layernorms.safetensors', True, 'match'), ('without layernorms.safetensors', False, 'differ')] if ln == 'true' else [('library files only', False, 'match')]
            if args.family != 'bert':
                cases = []  # the re-implementation is BertAdapterModel's; the library itself judges below
            for label, with_ln, want in cases:
                model = build(base, out, with_ln)
                with torch.no_grad():
                    ref = torch.stack([model(r['input_ids']) for r in rows])
                diff = (ref - ours).abs().max().item()
                good = diff <= TOL if want == 'match' else diff > 100 * TOL
                ok &= good
                print(f'{"ok  " if good else "FAIL"} {args.act}, --train-layernorms {ln}, {label}: max |logit diff| = {diff:.3e} (want {"<=" if want == "match" else ">"} {TOL if want == "match" else 100 * TOL:g}; max |logit| {ours.abs().max().item():.3f})')
            exported = os.path.join(work, f'export-ln-{ln}')
            cli(['export', '--format', 'adapterhub', '--adapter', out, '--out', exported])
            print(f'-- AdapterHub {adapters.__version__} on `trainer export --format adapterhub` ({args.family}, {args.act}, --train-layernorms {ln})')
            ok &= library_checks(base, out, exported, rows, ours, ln == 'true', work)
    finally:
        if args.keep:
            print(f'kept {work}')
        else:
            shutil.rmtree(work, ignore_errors=True)
    print('PASS' if ok else 'FAIL')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
