#!/usr/bin/python3
"""Parity of one training step of a model family with Hugging Face's own model (transformers 4.48, ../shared/hfref).

For --family bert|roberta|xlm-roberta|electra|distilbert: builds HF's <Family>ForSequenceClassification (random weights, every tensor drawn so
biases and LayerNorms are exercised, dropout 0), saves it with save_pretrained (config.json with the family's
model_type, model.safetensors under the `<prefix>.` names), and inserts Houlsby adapters at the two sites per
layer of docs/method.md (after each sub-layer's output dense + dropout, before its residual + LayerNorm:
h + up(gelu(down(h)))), registered under the names our trainer uses (`<prefix>.encoder.layer.L.
{attention.output|output}.adapters.<task>.adapter_{down.0,up}`), so HF's named_parameters() is the names map
we must match. Then for each mode (adapter: adapters + every LayerNorm + head; full: every tensor) one step
on a batch with padding, sentence pairs (the family's template) and truncation (longest first):

  * HF: logits and the gradient of the mean cross-entropy (the model's own `labels` loss) in float32;
  * ours: test/parity/family_step.ts, which loads the saved directory with the trainer's loader and runs the
    family's training graph in float32.

Checks: our parameter names == HF's named_parameters() (the names map, pooler and head included); our
trainable set == the mode's; per tensor err = max|ours - hf| / max(1, max|hf|) <= 1e-5 for the logits and
every trainable gradient. Prints the worst differences. Exit 1 on any failure.

    /usr/bin/python3 test/parity/family_parity.py --family roberta [--keep]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

from hfref import use_hfref

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOL = 1e-5
TASK = 'parity'
H, L, A, I, V, S, LABELS, M = 32, 2, 4, 37, 99, 12, 3, 8
E = 16  # ELECTRA's embedding_size (!= H: embeddings_project)
SINUSOIDAL = False  # DistilBERT's sinusoidal_pos_embds (--sinusoidal)
ADAPTER_LAYERS = [0, 1]


def import_transformers():
    """transformers + the pure-python safetensors shim from the hfref tree, offline."""
    use_hfref('transformers')
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers


def family_table(tf):
    """What differs per family on the Python side: HF classes, special ids, pair template, token types."""
    table = {
        'bert': dict(
            config=lambda: tf.BertConfig(pad_token_id=0, type_vocab_size=2, max_position_embeddings=S, layer_norm_eps=1e-12),
            model=tf.BertForSequenceClassification, prefix='bert', pad=0,
            single=lambda a: ([2] + a + [3], [0] * (len(a) + 2)),
            pair=lambda a, b: ([2] + a + [3] + b + [3], [0] * (len(a) + 2) + [1] * (len(b) + 1)),
            specials=(2, 3)),
        'roberta': dict(
            # Positions pad+1 .. pad+S: the table holds S + pad + 1 rows, as roberta-base's 514 for 512 tokens.
            config=lambda: tf.RobertaConfig(pad_token_id=1, bos_token_id=0, eos_token_id=2, type_vocab_size=1,
                                            max_position_embeddings=S + 2, layer_norm_eps=1e-5),
            model=tf.RobertaForSequenceClassification, prefix='roberta', pad=1,
            single=lambda a: ([0] + a + [2], [0] * (len(a) + 2)),
            pair=lambda a, b: ([0] + a + [2, 2] + b + [2], [0] * (len(a) + len(b) + 4)),
            specials=(2, 4)),
    }
    # ELECTRA discriminator: BERT's template and positions; embeddings narrower than the layers, so
    # embeddings_project is in the names map and the step.
    table['electra'] = dict(table['bert'], model=tf.ElectraForSequenceClassification, prefix='electra',
                            config=lambda: tf.ElectraConfig(pad_token_id=0, type_vocab_size=2, max_position_embeddings=S,
                                                            layer_norm_eps=1e-12, embedding_size=E))
    # DistilBERT: its own config names and module names, no token types (its model takes none), adapters where
    # AdapterHub puts them (attention_adapters, output_adapters), head pre_classifier + ReLU + classifier.
    table['distilbert'] = dict(table['bert'], model=tf.DistilBertForSequenceClassification, prefix='distilbert',
                               config=lambda: tf.DistilBertConfig(dim=H, hidden_dim=I, n_layers=L, n_heads=A, vocab_size=V,
                                                                  max_position_embeddings=S, activation='gelu', dropout=0.0,
                                                                  attention_dropout=0.0, seq_classif_dropout=0.0, pad_token_id=0,
                                                                  sinusoidal_pos_embds=SINUSOIDAL),
                               inputs=('input_ids', 'attention_mask'), insert=insert_adapters_distilbert,
                               head=('pre_classifier.', 'classifier.'))
    # XLM-R: RoBERTa's model under the `roberta.` prefix, with its own classes and model_type.
    table['xlm-roberta'] = dict(table['roberta'], model=tf.XLMRobertaForSequenceClassification,
                                config=lambda: tf.XLMRobertaConfig(**table['roberta']['config']().to_diff_dict()))
    return table


def truncate_longest_first(a, b, budget):
    a, b = list(a), list(b)
    while len(a) + len(b) > budget:
        if len(a) > len(b):
            a.pop()
        else:
            b.pop()
    return a, b


def make_batch(torch, fam):
    g = torch.Generator().manual_seed(7)
    words = lambda n: (torch.randint(5, V, (n,), generator=g)).tolist()
    single_special, pair_special = fam['specials']
    rows = [
        fam['pair'](*truncate_longest_first(words(9), words(8), S - pair_special)),  # a truncated pair, full length
        fam['single'](words(5)),                                                      # short: padded
        fam['pair'](words(3), words(2)),                                              # short pair: padded
        fam['single'](words(20)[: S - single_special]),                               # a truncated single
    ]
    ids, types_, mask = [], [], []
    for r_ids, r_types in rows:
        n = len(r_ids)
        assert n <= S
        ids.append(r_ids + [fam['pad']] * (S - n))
        types_.append(r_types + [0] * (S - n))
        mask.append([1] * n + [0] * (S - n))
    labels = torch.randint(0, LABELS, (len(rows),), generator=g).tolist()
    return dict(input_ids=ids, token_type_ids=types_, attention_mask=mask, labels=labels)


class Adapter(__import__('torch').nn.Module):
    """Houlsby bottleneck: h + up(gelu(down(h))), names as the `adapters` library's (adapter_down.0, adapter_up)."""

    def __init__(self, torch, d, m):
        super().__init__()
        self.adapter_down = torch.nn.Sequential(torch.nn.Linear(d, m))
        self.adapter_up = torch.nn.Linear(m, d)

    def forward(self, h):
        import torch.nn.functional as F

        return h + self.adapter_up(F.gelu(self.adapter_down(h)))


def insert_adapters(torch, model, prefix):
    """Both sites of each layer: BertSelfOutput/RobertaSelfOutput and BertOutput/RobertaOutput share this forward."""

    def forward(self, hidden_states, input_tensor):
        h = self.dropout(self.dense(hidden_states))
        return self.LayerNorm(self.adapters[TASK](h) + input_tensor)

    encoder = getattr(model, prefix).encoder
    for l in ADAPTER_LAYERS:
        for block in (encoder.layer[l].attention.output, encoder.layer[l].output):
            block.adapters = torch.nn.ModuleDict({TASK: Adapter(torch, H, M)})
            block.forward = types.MethodType(forward, block)


def insert_adapters_distilbert(torch, model, prefix):
    """TransformerBlock as AdapterHub's DistilBERT has it: attention_adapters on out_lin's output before
    sa_layer_norm's residual, output_adapters on the FFN's output (after its dropout) before output_layer_norm's."""

    def forward(self, x, attn_mask=None, head_mask=None, output_attentions=False):
        sa = self.attention(query=x, key=x, value=x, mask=attn_mask, head_mask=head_mask, output_attentions=False)[0]
        sa = self.sa_layer_norm(self.attention_adapters.adapters[TASK](sa) + x)
        return (self.output_layer_norm(self.output_adapters.adapters[TASK](self.ffn(sa)) + sa),)

    for l in ADAPTER_LAYERS:
        block = model.distilbert.transformer.layer[l]
        for site in ('attention_adapters', 'output_adapters'):
            holder = torch.nn.Module()
            holder.adapters = torch.nn.ModuleDict({TASK: Adapter(torch, H, M)})
            setattr(block, site, holder)
        block.forward = types.MethodType(forward, block)


def is_layer_norm(name):
    return 'LayerNorm' in name or '_layer_norm.' in name


def model_inputs(torch, fam, batch):
    return {k: torch.tensor(batch[k]) for k in fam.get('inputs', ('input_ids', 'token_type_ids', 'attention_mask'))}


def node(args, timeout=900):
    cmd = [shutil.which('node') or 'node', '--import', 'tsx', *args]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, 'ONNXRUNTIME_NODE_INSTALL': 'skip'})
    if p.returncode != 0:
        raise SystemExit(f'FAIL: {" ".join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}')


def err(ours, ref):
    diff = (ours - ref).abs().max().item() if ref.numel() else 0.0
    return diff / max(1.0, ref.abs().max().item() if ref.numel() else 0.0), diff


def run(family, keep):
    tf = import_transformers()
    import torch
    from safetensors.torch import save_file

    fam = family_table(tf)[family]
    work = tempfile.mkdtemp(prefix=f'family-parity-{family}-')
    failures = []
    try:
        cfg = fam['config']()
        for k, v in dict(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=A, intermediate_size=I,
                         hidden_act='gelu', hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                         num_labels=LABELS).items():
            setattr(cfg, k, v)
        torch.manual_seed(0)
        model = fam['model'](cfg)
        with torch.no_grad():  # every tensor random (HF's init leaves biases 0 and LayerNorms 1)
            for name, p in model.named_parameters():
                if SINUSOIDAL and name.endswith('position_embeddings.weight'):
                    continue  # keep HF's sinusoidal table: ours must read it from the checkpoint
                p.copy_(1 + 0.1 * torch.randn_like(p) if is_layer_norm(name) and name.endswith('.weight') else 0.05 * torch.randn_like(p))
        model.save_pretrained(os.path.join(work, 'base'))
        fam.get('insert', insert_adapters)(torch, model, fam['prefix'])
        with torch.no_grad():
            for name, p in model.named_parameters():
                if '.adapters.' in name:
                    p.copy_(0.05 * torch.randn_like(p))
        params = dict(model.named_parameters())
        head = fam.get('head', ('classifier.',))
        extra = {n: p.detach().clone().contiguous() for n, p in params.items() if '.adapters.' in n or n.startswith(head)}
        save_file(extra, os.path.join(work, 'extra.safetensors'))

        batch = make_batch(torch, fam)
        model.train()  # dropout is 0: train() only matters for modules that differ by mode (none here)
        model.zero_grad()
        out = model(**model_inputs(torch, fam, batch), labels=torch.tensor(batch['labels']))
        out.loss.backward()
        hf_logits = out.logits.detach()
        print(f'{family}: batch {len(batch["input_ids"])}x{S} (lengths {[sum(m) for m in batch["attention_mask"]]}), '
              f'{len(params)} HF tensors, loss {out.loss.item():.6f}')

        for mode in ('adapter', 'full'):
            step = dict(mode=mode, task=TASK, numLabels=LABELS, layers=ADAPTER_LAYERS, bottleneck=M, **batch)
            with open(os.path.join(work, 'step.json'), 'w') as f:
                json.dump(step, f)
            node(['test/parity/family_step.ts', work])
            with open(os.path.join(work, 'ours.json')) as f:
                ours = json.load(f)
            names = set(ours['names'])
            hf_names = {n for n in params if mode == 'adapter' or '.adapters.' not in n}
            if names != hf_names:
                failures.append(f'{mode}: names map differs: ours only {sorted(names - hf_names)[:5]}, HF only {sorted(hf_names - names)[:5]}')
                continue
            expected = {n for n in hf_names if mode == 'full' or '.adapters.' in n or is_layer_norm(n) or n.startswith(head)}
            if set(ours['grads']) != expected:
                failures.append(f'{mode}: trainable set differs: ours only {sorted(set(ours["grads"]) - expected)[:5]}, '
                                f'expected only {sorted(expected - set(ours["grads"]))[:5]}')
                continue
            if mode == 'full':  # full mode's HF reference has no adapters: run it again without them
                ref_logits, ref_grads, ref_loss = full_reference(torch, fam, cfg, work, batch)
            else:
                ref_logits, ref_grads, ref_loss = hf_logits, {n: params[n].grad for n in expected}, out.loss.item()
            logit_err, logit_abs = err(torch.tensor(ours['logits']), ref_logits)
            rows = sorted(((err(torch.tensor(ours['grads'][n]).reshape(ref_grads[n].shape), ref_grads[n]), n) for n in expected), reverse=True)
            (worst_err, worst_abs), worst = rows[0]
            scale = max(ref_grads[n].abs().max().item() for n in expected)
            print(f'  {mode:8s} loss ours {ours["loss"]:.7f} hf {ref_loss:.7f}; logits err {logit_err:.2e} (abs {logit_abs:.2e}); '
                  f'{len(rows)} gradients (largest |g| {scale:.2e}), worst err {worst_err:.2e} (abs {worst_abs:.2e}) at {worst}')
            for (e, a), n in rows[1:3]:
                print(f'           next: {e:.2e} (abs {a:.2e}) {n}')
            if logit_err > TOL:
                failures.append(f'{mode}: logits err {logit_err:.2e} > {TOL}')
            failures += [f'{mode}: {n}: gradient err {e:.2e} > {TOL}' for (e, _), n in rows if e > TOL]
    finally:
        if keep:
            print(f'kept {work}')
        else:
            shutil.rmtree(work, ignore_errors=True)
    return failures


def full_reference(torch, fam, cfg, work, batch):
    """Full mode: HF's model as saved (no adapters), every tensor trainable."""
    model = fam['model'].from_pretrained(os.path.join(work, 'base'))
    model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = 0.0
    model.train()
    out = model(**model_inputs(torch, fam, batch), labels=torch.tensor(batch['labels']))
    out.loss.backward()
    return out.logits.detach(), {n: p.grad for n, p in model.named_parameters()}, out.loss.item()


def main():
    global E, SINUSOIDAL
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--family', required=True, choices=['bert', 'roberta', 'xlm-roberta', 'electra', 'distilbert'])
    ap.add_argument('--embedding-size', type=int, default=E,
                    help=f'ELECTRA only: embedding_size (default {E}; {H} = hidden_size leaves out embeddings_project)')
    ap.add_argument('--sinusoidal', action='store_true',
                    help='DistilBERT only: sinusoidal_pos_embds true (the table is saved and read like a learned one)')
    ap.add_argument('--keep', action='store_true', help='keep the temp directory (base, extra tensors, step, ours)')
    a = ap.parse_args()
    E = a.embedding_size
    SINUSOIDAL = a.sinusoidal
    failures = run(a.family, a.keep)
    if failures:
        print('FAIL:\n  ' + '\n  '.join(failures[:20]))
        sys.exit(1)
    print(f'OK: {a.family} logits and every trainable gradient within {TOL} of Hugging Face (float32)')


if __name__ == '__main__':
    main()
