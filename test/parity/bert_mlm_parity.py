#!/usr/bin/python3
"""PyTorch parity check of `trainer pretrain`'s masked-LM step and output directory.

1. Step: a small random BERT + MLM head (HF BertForMaskedLM semantics: post-LN encoder, head dense ->
   GELU(erf) -> LayerNorm -> decoder tied to the word embeddings + cls.predictions.bias, mean
   cross-entropy over the masked positions only), one masked batch. float64 PyTorch is the reference
   for the loss and the gradient of every parameter (with tanh-GELU for our float64 graph, which spells
   GELU so); ours comes from test/parity/mlm_step.ts (the MLM
   graph of trainer/pretrain/graph.ts on onnxruntime) in float64 and in float32.
2. Output: `trainer pretrain` runs a few steps on a generated corpus; its directory is loaded into the
   PyTorch model by BertForMaskedLM's names (every tensor the model needs present, shapes right, the
   tied decoder saved once, the pooler carried), and its masked-LM loss on a (random-token) batch is
   finite and near ln V.

Error per tensor: rel_err = max|a - b| / max(max|b|, 1e-6), b = float64 PyTorch.
Exit 1 if ours float64 > 1e-6 or ours float32 > 1e-4 anywhere, or a check fails.

    /usr/bin/python3 test/parity/bert_mlm_parity.py [--keep]
Only the standard library and torch.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_adapter_parity import REPO, base_param_shapes, bert_encoder, read_safetensors, rel_err, write_safetensors, write_vocab  # noqa: E402

TOL64, TOL32 = 1e-6, 1e-4
HEAD = 'cls.predictions'


def mlm_param_shapes(cfg):
    d, V = cfg['hidden_size'], cfg['vocab_size']
    s = {f'bert.{n}': shape for n, shape in base_param_shapes(cfg, with_pooler=False).items()}
    s.update({f'{HEAD}.transform.dense.weight': [d, d], f'{HEAD}.transform.dense.bias': [d],
              f'{HEAD}.transform.LayerNorm.weight': [d], f'{HEAD}.transform.LayerNorm.bias': [d], f'{HEAD}.bias': [V]})
    return s


def mlm_loss(P, cfg, input_ids, positions, labels):
    """BertForMaskedLM: loss over the masked positions (labels elsewhere are -100 in transformers)."""
    B, S = input_ids.shape
    d = cfg['hidden_size']
    x = bert_encoder(P, cfg, input_ids, torch.zeros_like(input_ids), torch.ones(B, S, dtype=torch.long))
    h = x.reshape(B * S, d)
    t = F.gelu(F.linear(h, P[f'{HEAD}.transform.dense.weight'], P[f'{HEAD}.transform.dense.bias']))
    t = F.layer_norm(t, (d,), P[f'{HEAD}.transform.LayerNorm.weight'], P[f'{HEAD}.transform.LayerNorm.bias'], cfg['layer_norm_eps'])
    logits = t @ P['bert.embeddings.word_embeddings.weight'].t() + P[f'{HEAD}.bias']  # every position, as transformers
    full = torch.full((B * S,), -100, dtype=torch.long)
    full[positions] = labels
    return F.cross_entropy(logits, full, ignore_index=-100), logits[positions].argmax(-1)


def node(args, timeout=600):
    cmd = [shutil.which('node') or 'node', '--import', 'tsx', *args]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, 'ONNXRUNTIME_NODE_INSTALL': 'skip'})
    if p.returncode != 0:
        raise SystemExit(f'FAIL: {" ".join(cmd)}\n{p.stderr[-4000:]}')
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--keep', action='store_true')
    ap.add_argument('--seed', type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(args.seed)
    tmp = tempfile.mkdtemp(prefix='bert-mlm-parity-')
    failures = []
    try:
        # ---- 1. one MLM step
        cfg = {'vocab_size': 60, 'hidden_size': 16, 'num_hidden_layers': 2, 'num_attention_heads': 2, 'intermediate_size': 32,
               'hidden_act': 'gelu', 'max_position_embeddings': 32, 'type_vocab_size': 2, 'layer_norm_eps': 1e-12, 'model_type': 'bert'}
        P32 = {}
        for name, shape in mlm_param_shapes(cfg).items():
            if name.endswith('LayerNorm.weight'):
                t = 1 + 0.2 * torch.randn(shape, generator=g)
            elif name.endswith('bias'):
                t = 0.1 * torch.randn(shape, generator=g)
            elif 'embeddings' in name:
                t = 0.5 * torch.randn(shape, generator=g)
            else:
                t = torch.randn(shape, generator=g) / math.sqrt(shape[1])
            P32[name] = t.float()
        B, S = 3, 12
        ids = torch.randint(5, cfg['vocab_size'], (B, S), generator=g)
        ids[:, 0] = 2  # [CLS]
        positions = torch.tensor([1, 4, 5, 13, 19, 22, 26, 30, 35])
        labels = ids.reshape(-1)[positions].clone()
        masked = ids.reshape(-1).clone()
        masked[positions[:6]] = 4  # [MASK]; the rest stay (the "unchanged 10 %")
        masked = masked.view(B, S)
        step = os.path.join(tmp, 'step')
        os.makedirs(step)
        with open(os.path.join(step, 'config.json'), 'w') as f:
            json.dump(cfg, f)
        write_safetensors(os.path.join(step, 'params.safetensors'), P32)
        with open(os.path.join(step, 'batch.json'), 'w') as f:
            json.dump({'input_ids': masked.tolist(), 'positions': positions.tolist(), 'labels': labels.tolist()}, f)

        P64 = {k: v.double().requires_grad_(True) for k, v in P32.items()}
        loss, pred = mlm_loss(P64, cfg, masked, positions, labels)
        loss.backward()
        # Our float64 graph spells GELU in its tanh form (onnxruntime has no float64 Erf/Gelu kernels), so
        # its reference is the same step with tanh-GELU; float32 (erf GELU, what training runs) is checked
        # against the exact reference above.
        exact_gelu = F.gelu
        F.gelu = lambda x: exact_gelu(x, approximate='tanh')
        try:
            T64 = {k: v.double().requires_grad_(True) for k, v in P32.items()}
            loss_t, _ = mlm_loss(T64, cfg, masked, positions, labels)
            loss_t.backward()
        finally:
            F.gelu = exact_gelu
        refs = {'f64': (T64, loss_t.item()), 'f32': (P64, loss.item())}
        # The attention key bias's gradient is zero in exact arithmetic (softmax ignores a per-query constant):
        # its round-off is measured against the largest gradient, as bert_adapter_parity.py does.
        zero_scale = max(p.grad.abs().max().item() for p in P64.values())
        node(['test/parity/mlm_step.ts', step])
        with open(os.path.join(step, 'ours.json')) as f:
            ours = json.load(f)
        print(f'MLM step: {len(P64)} parameters, batch {B} x {S}, {len(positions)} masked; reference loss {loss.item():.6f}')
        print(f'{"tensor":<55} {"f64 rel err":>12} {"f32 rel err":>12}')
        for key, tol in (('f64', TOL64), ('f32', TOL32)):
            o = ours[key]
            ref_loss = refs[key][1]
            e = abs(o['loss'] - ref_loss) / abs(ref_loss)
            if e > tol:
                failures.append(f'{key} loss {o["loss"]} vs {ref_loss} (rel {e:.2e})')
            if o['correct'] != int((pred == labels).sum()):
                failures.append(f'{key} masked-token hits {o["correct"]} vs {int((pred == labels).sum())}')
        worst = {'f64': 0.0, 'f32': 0.0}
        for name in P64:
            errs = {}
            for key, tol in (('f64', TOL64), ('f32', TOL32)):
                ref = refs[key][0][name].grad
                a = torch.tensor(ours[key]['grads'][name], dtype=torch.float64).reshape(ref.shape)
                errs[key] = rel_err(a, ref, zero_scale)
                worst[key] = max(worst[key], errs[key])
                if errs[key] > tol:
                    failures.append(f'{key} grad {name}: rel err {errs[key]:.2e} > {tol:g}')
            print(f'{name:<55} {errs["f64"]:>12.2e} {errs["f32"]:>12.2e}')
        print(f'loss rel err: f64 {abs(ours["f64"]["loss"] - loss_t.item()) / loss_t.item():.2e}, f32 {abs(ours["f32"]["loss"] - loss.item()) / loss.item():.2e}; '
              f'worst grad rel err: f64 {worst["f64"]:.2e} (tol {TOL64:g}), f32 {worst["f32"]:.2e} (tol {TOL32:g})')

        # ---- 2. `trainer pretrain` output loads into the PyTorch model
        vocab = os.path.join(tmp, 'vocab.txt')
        write_vocab(vocab, 60)
        corpus = os.path.join(tmp, 'corpus.jsonl')
        with open(corpus, 'w') as f:
            for i in range(120):
                words = [f'tok{(i * 7 + k * 3) % 50}' for k in range(20 + i % 13)]
                f.write(json.dumps({'text': ' '.join(words)}) + '\n')
        out = os.path.join(tmp, 'pretrained')
        node(['trainer/cli.ts', 'pretrain', '--data', corpus, '--out', out, '--vocab', vocab, '--layers', '2', '--hidden', '16', '--heads', '2',
              '--intermediate', '32', '--max-position', '32', '--max-seq-len', '16', '--batch-size', '8', '--max-steps', '20', '--lr', '1e-2',
              '--threads', '1', '--quiet'])
        with open(os.path.join(out, 'config.json')) as f:
            ocfg = json.load(f)
        if ocfg.get('architectures') != ['BertForMaskedLM']:
            failures.append(f'config.json architectures {ocfg.get("architectures")}')
        W, _ = read_safetensors(os.path.join(out, 'model.safetensors'))
        need = mlm_param_shapes(ocfg)
        for name, shape in need.items():
            if name not in W:
                failures.append(f'output: missing {name}')
            elif list(W[name].shape) != shape:
                failures.append(f'output: {name} shape {list(W[name].shape)} != {shape}')
        extra = sorted(set(W) - set(need) - {'bert.pooler.dense.weight', 'bert.pooler.dense.bias'})
        if extra:
            failures.append(f'output: unexpected tensors {extra}')
        if 'bert.pooler.dense.weight' not in W:
            failures.append('output: no pooler')
        ids = torch.randint(5, 55, (4, 16), generator=g)
        ids[:, 0] = 2
        pos = torch.arange(1, 64, 5)
        lab = ids.reshape(-1)[pos].clone()
        inp = ids.reshape(-1).clone()
        inp[pos] = 4
        if not failures:
            trained, _ = mlm_loss(W, ocfg, inp.view(4, 16), pos, lab)
            print(f'output dir: loads as BertForMaskedLM ({len(need)} tensors + pooler), MLM loss on a masked batch {trained.item():.4f} (ln V = {math.log(60):.4f})')
            if not math.isfinite(trained.item()) or trained.item() > math.log(60) + 1:
                failures.append(f'output: MLM loss {trained.item()} on a masked batch')
    finally:
        if args.keep:
            print(f'kept {tmp}')
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print('FAIL\n' + '\n'.join(failures))
        sys.exit(1)
    print('PASS')


if __name__ == '__main__':
    main()
