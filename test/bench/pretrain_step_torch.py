#!/usr/bin/python3
"""PyTorch peer of test/bench/pretrain-step.ts: the same masked-LM training step.

HF BertForMaskedLM semantics in plain torch (post-LN BERT, no dropout, MLM head dense -> GELU ->
LayerNorm -> decoder tied to the word embeddings + bias), the same packed random-token batch with
15 % masking (80/10/10), the vocabulary projection only at the masked positions (--sparse, default)
or at every position as transformers computes it (--dense; the loss still counts masked tokens only),
then global-norm clipping and torch.optim.AdamW. Layouts as in step_torch.py: `default` (threads as
torch / OpenBLAS pick them) and `tuned` (OPENBLAS_NUM_THREADS=N, torch.set_num_threads(1)).

  /usr/bin/python3 test/bench/pretrain_step_torch.py --layers 4 --hidden 256 --heads 4 --batch 64 --seq 128 --steps 5 --threads 2
Prints one JSON line on stdout. Only the standard library and torch are used.
"""
import argparse
import json
import os
import resource
import time

ap = argparse.ArgumentParser()
ap.add_argument('--layers', type=int, default=4)
ap.add_argument('--hidden', type=int, default=256)
ap.add_argument('--heads', type=int, default=4)
ap.add_argument('--vocab', type=int, default=30522)
ap.add_argument('--batch', type=int, default=64)
ap.add_argument('--seq', type=int, default=128)
ap.add_argument('--steps', type=int, default=5)
ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--layout', choices=['default', 'tuned'], default='default')
ap.add_argument('--dense', action='store_true', help='project every position onto the vocabulary, as transformers does')
args = ap.parse_args()
if args.layout == 'tuned':
    os.environ['OPENBLAS_NUM_THREADS'] = str(args.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1 if args.layout == 'tuned' else args.threads)
torch.manual_seed(0)
V, d, H, L, B, S = args.vocab, args.hidden, args.heads, args.layers, args.batch, args.seq


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        b, s, _ = x.shape
        split = lambda t: t.view(b, s, H, d // H).transpose(1, 2)  # noqa: E731
        probs = torch.softmax(split(self.q(x)) @ split(self.k(x)).transpose(-1, -2) / (d // H) ** 0.5, dim=-1)
        ctx = (probs @ split(self.v(x))).transpose(1, 2).reshape(b, s, d)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.fc2(F.gelu(self.fc1(x))))


class MaskedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.word, self.pos, self.types = nn.Embedding(V, d), nn.Embedding(512, d), nn.Embedding(2, d)
        self.ln = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList(Layer() for _ in range(L))
        self.dense, self.head_ln = nn.Linear(d, d), nn.LayerNorm(d, eps=1e-12)
        self.bias = nn.Parameter(torch.zeros(V))

    def forward(self, ids, positions, labels):
        x = self.word(ids) + self.pos.weight[:ids.shape[1]] + self.types.weight[0]
        x = self.ln(x)
        for layer in self.layers:
            x = layer(x)
        x = x.reshape(-1, d)
        if args.dense:
            logits = self.head_ln(F.gelu(self.dense(x))) @ self.word.weight.t() + self.bias
            full = torch.full((x.shape[0],), -100, dtype=torch.long)
            full[positions] = labels
            return F.cross_entropy(logits, full, ignore_index=-100)
        logits = self.head_ln(F.gelu(self.dense(x[positions]))) @ self.word.weight.t() + self.bias
        return F.cross_entropy(logits, labels)


model = MaskedLM()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
g = torch.Generator().manual_seed(1)
ids = torch.randint(1000, V, (B, S), generator=g)
ids[:, 0] = 101


def masked_batch():
    chosen = torch.rand(B, S, generator=g) < 0.15
    chosen[:, 0] = False
    positions = chosen.reshape(-1).nonzero().squeeze(1)
    labels = ids.reshape(-1)[positions]
    inp = ids.clone().reshape(-1)
    r = torch.rand(positions.shape[0], generator=g)
    inp[positions[r < 0.8]] = 103
    rand = (r >= 0.8) & (r < 0.9)
    inp[positions[rand]] = torch.randint(0, V, (int(rand.sum()),), generator=g)
    return inp.view(B, S), positions, labels


times = []
for step in range(args.steps + 1):
    inp, positions, labels = masked_batch()
    t0 = time.perf_counter()
    loss = model(inp, positions, labels)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if step > 0:
        times.append(time.perf_counter() - t0)
sec = sorted(times)[len(times) // 2]
print(json.dumps({
    'impl': 'pytorch', 'layout': args.layout, 'prediction': 'dense' if args.dense else 'sparse', 'layers': L, 'hidden': d,
    'batch': B, 'seq': S, 'sec_per_step': sec, 'tokens_per_s': B * S / sec, 'torch': torch.__version__,
    'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
