#!/usr/bin/python3
"""Writes test/fixtures/pytorch-reference/bert-houlsby.json: PyTorch's (float64) logits, loss and gradients
for a tiny seeded BERT with Houlsby adapters, one entry per adapter non-linearity the product supports.

`npm test` (test/trainer/model/pytorch-reference.test.ts) runs the project's own training graph on the same
weights and batch and compares: an independent reference inside the unit suite, with no PyTorch at test time.
The forward is this folder's bert_adapter_parity.bert_forward (HF BertModel semantics, the adapters placed as
the method page says: after each output projection, before the residual add and its LayerNorm).

Regenerate (only when the reference itself must change; the file is committed):
    /usr/bin/python3 test/parity/write_forward_fixture.py            # writes the file
    /usr/bin/python3 test/parity/write_forward_fixture.py --check    # exit 1 if the committed file differs
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_adapter_parity import ACTS, adapter_param_shapes, bert_forward, random_base  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, 'test', 'fixtures', 'pytorch-reference', 'bert-houlsby.json')
TASK = 'ref'
SEED = 20261207
CONFIG = {
    'vocab_size': 24,
    'hidden_size': 8,
    'num_hidden_layers': 2,
    'num_attention_heads': 2,
    'intermediate_size': 16,
    'hidden_act': 'gelu',
    'max_position_embeddings': 12,
    'type_vocab_size': 2,
    'layer_norm_eps': 1e-12,
}
BOTTLENECK = 4
NUM_LABELS = 3
LAYERS = [0, 1]
# Three rows of lengths 7, 4 and 6 (padded to 7): padding must not leak into attention or the loss.
INPUT_IDS = [[2, 9, 14, 5, 21, 7, 3], [2, 11, 6, 3, 0, 0, 0], [2, 17, 8, 3, 12, 19, 3]]
TOKEN_TYPE_IDS = [[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1]]
ATTENTION_MASK = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0]]
LABELS = [2, 0, 1]


def parameters():
    """float32 tensors under the exported names. Adapter weights are large on purpose (std 0.5, not the
    method's near-identity init): an adapter that starts as the identity would hide where it sits and
    which non-linearity it applies."""
    g = torch.Generator().manual_seed(SEED)
    P = {'bert.' + k: v for k, v in random_base(CONFIG, g).items()}
    for name, shape in adapter_param_shapes(CONFIG, LAYERS, BOTTLENECK, TASK).items():
        P[name] = (0.5 if name.endswith('.weight') else 0.2) * torch.randn(shape, generator=g)
    d = CONFIG['hidden_size']
    P['classifier.weight'] = torch.randn([NUM_LABELS, d], generator=g) / math.sqrt(d)
    P['classifier.bias'] = 0.1 * torch.randn([NUM_LABELS], generator=g)
    return {k: v.float() for k, v in P.items()}


def trainable(name):
    """Adapter mode trains the adapters, every LayerNorm and the head (docs: method)."""
    return '.adapters.' in name or 'LayerNorm' in name or name.startswith('classifier.')


def reference(P32, act):
    P = {k: v.to(torch.float64).clone().requires_grad_(trainable(k)) for k, v in P32.items()}
    ids, tt, mask = (torch.tensor(x) for x in (INPUT_IDS, TOKEN_TYPE_IDS, ATTENTION_MASK))
    logits = bert_forward(P, CONFIG, ids, tt, mask, adapter_layers=set(LAYERS), act=act, use_pooler=True, task=TASK)
    loss = F.cross_entropy(logits, torch.tensor(LABELS))
    names = sorted(k for k in P if trainable(k))
    grads = torch.autograd.grad(loss, [P[n] for n in names])
    return {
        'logits': logits.detach().tolist(),
        'loss': loss.item(),
        'grads': {n: g.reshape(-1).tolist() for n, g in zip(names, grads)},
    }


def fixture():
    P32 = parameters()
    return {
        'about': 'PyTorch float64 reference for test/trainer/model/pytorch-reference.test.ts; written by '
                 'test/parity/write_forward_fixture.py (torch ' + torch.__version__ + '). Do not edit by hand.',
        'config': CONFIG,
        'task': TASK,
        'numLabels': NUM_LABELS,
        'bottleneck': BOTTLENECK,
        'adapterLayers': LAYERS,
        'batch': {'inputIds': INPUT_IDS, 'tokenTypeIds': TOKEN_TYPE_IDS, 'attentionMask': ATTENTION_MASK, 'labels': LABELS},
        'parameters': {k: {'shape': list(v.shape), 'data': v.reshape(-1).tolist()} for k, v in sorted(P32.items())},
        'nonlinearities': {act: reference(P32, act) for act in sorted(ACTS)},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--check', action='store_true', help='compare with the committed file instead of writing it')
    args = ap.parse_args()
    text = json.dumps(fixture(), separators=(',', ':')) + '\n'
    if args.check:
        with open(OUT) as f:
            old = json.load(f)
        new = json.loads(text)
        old.pop('about'), new.pop('about')
        worst = max_diff(old, new)
        print(f'{OUT}: max |difference| from a fresh run {worst:.3g}')
        sys.exit(0 if worst <= 1e-12 else 1)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        f.write(text)
    print(f'wrote {OUT} ({len(text)} bytes; non-linearities {", ".join(sorted(ACTS))})')


def max_diff(a, b):
    """Largest absolute difference between two equally shaped JSON values (inf when the shapes differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return max((max_diff(a[k], b[k]) for k in a), default=0.0) if a.keys() == b.keys() else math.inf
    if isinstance(a, list) and isinstance(b, list):
        return max((max_diff(x, y) for x, y in zip(a, b)), default=0.0) if len(a) == len(b) else math.inf
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b)
    return 0.0 if a == b else math.inf


if __name__ == '__main__':
    main()
