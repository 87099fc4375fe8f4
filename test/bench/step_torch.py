#!/usr/bin/python3
"""PyTorch peer of the trainer's training-step benchmark.

One step = forward + mean cross-entropy + backward + AdamW step on a random BERT-base-shaped model
(HF BertModel semantics, post-LN, pooler) with Houlsby adapters in every layer.

  modes:   adapter  only adapters + every LayerNorm + classifier require grad
           full     every weight requires grad (no adapters, as in the trainer's full mode)
           head     only the classifier requires grad (no adapters)
  layouts: default  threads as PyTorch / OpenBLAS pick them (nothing set)
           tuned    OPENBLAS_NUM_THREADS=2 (set before torch is imported) + torch.set_num_threads(1)
           all2     extra: OPENBLAS_NUM_THREADS=2 + torch.set_num_threads(2) (element-wise ops on 2 cores too)

Run one (mode, layout) per process so that peak RSS is per run:
    /usr/bin/python3 test/bench/step_torch.py --mode adapter --batch 32 --seq 128 --steps 3 --layout tuned
sec_per_step is the median of the timed steps. Prints one JSON line on stdout:
    {"impl":"pytorch","mode":..,"batch":..,"seq":..,"threads":..,"layout":..,"sec_per_step":..,
     "steps_per_s":..,"peak_rss_mb":.., ...extra fields: sec_per_step_mean, step_secs, blas, blas_threads, torch, trainable_params, ...}
Diagnostics (BLAS in use, torch.__config__.parallel_info()) go to stderr (--quiet drops them).
Only the standard library and torch are used.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('--mode', choices=['adapter', 'full', 'head'], default='adapter')
ap.add_argument('--batch', type=int, default=32)
ap.add_argument('--seq', type=int, default=128)
ap.add_argument('--steps', type=int, default=3, help='timed steps (after --warmup steps)')
ap.add_argument('--warmup', type=int, default=1)
ap.add_argument('--layout', choices=['default', 'tuned', 'all2'], default='default')
ap.add_argument('--dropout', type=float, default=0.1)
ap.add_argument('--bottleneck', type=int, default=64)
ap.add_argument('--nonlinearity', choices=['gelu', 'relu', 'swish', 'tanh'], default='gelu')
ap.add_argument('--layers', type=int, default=12)
ap.add_argument('--hidden', type=int, default=768)
ap.add_argument('--heads', type=int, default=12)
ap.add_argument('--intermediate', type=int, default=3072)
ap.add_argument('--vocab', type=int, default=30522)
ap.add_argument('--max-pos', type=int, default=512)
ap.add_argument('--labels', type=int, default=2)
ap.add_argument('--lr', type=float, default=1e-4)
ap.add_argument('--seed', type=int, default=0)
ap.add_argument('--quiet', action='store_true', help='no diagnostics on stderr')
args = ap.parse_args()

if args.layout in ('tuned', 'all2'):
    # OpenBLAS reads this when the library is loaded, i.e. when torch is imported.
    os.environ['OPENBLAS_NUM_THREADS'] = '2'

import ctypes  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

if args.layout == 'tuned':
    torch.set_num_threads(1)
elif args.layout == 'all2':
    torch.set_num_threads(2)


def blas_info():
    """Which BLAS torch's libblas.so.3 resolves to (Debian alternatives -> OpenBLAS here)."""
    info = {'blas': None, 'blas_core': None, 'blas_threads': None, 'blas_lib': None}
    try:
        with open('/proc/self/maps') as f:
            libs = sorted({l.split()[-1] for l in f if ('blas' in l or 'lapack' in l) and '/' in l})
        info['blas_lib'] = libs
    except OSError:
        pass
    for name in ('libopenblas.so.0', 'libopenblasp.so.0', 'libblas.so.3'):
        try:
            lib = ctypes.CDLL(name)  # already loaded by torch: same handle
        except OSError:
            continue
        if hasattr(lib, 'openblas_get_config'):
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            info['blas'] = lib.openblas_get_config().decode()
            info['blas_core'] = lib.openblas_get_corename().decode()
            info['blas_threads'] = int(lib.openblas_get_num_threads())
            break
    return info


ACT = {'gelu': F.gelu, 'relu': F.relu, 'swish': lambda x: x * torch.sigmoid(x), 'tanh': torch.tanh}[args.nonlinearity]


class Adapter(nn.Module):
    def __init__(self, d, m):
        super().__init__()
        self.adapter_down = nn.Linear(d, m)
        self.adapter_up = nn.Linear(m, d)
        for lin in (self.adapter_down, self.adapter_up):
            nn.init.trunc_normal_(lin.weight, std=1e-2, a=-2e-2, b=2e-2)
            nn.init.zeros_(lin.bias)

    def forward(self, h):
        return h + self.adapter_up(ACT(self.adapter_down(h)))


class Layer(nn.Module):
    def __init__(self, d, heads, inter, p, adapter_m):
        super().__init__()
        self.h, self.hd, self.p = heads, d // heads, p
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.attn_out = nn.Linear(d, d)
        self.attn_ln = nn.LayerNorm(d, eps=1e-12)
        self.inter = nn.Linear(d, inter)
        self.out = nn.Linear(inter, d)
        self.out_ln = nn.LayerNorm(d, eps=1e-12)
        self.adapter_attn = Adapter(d, adapter_m) if adapter_m else None
        self.adapter_ffn = Adapter(d, adapter_m) if adapter_m else None

    def forward(self, x, ext_mask):
        B, S, d = x.shape
        split = lambda t: t.view(B, S, self.h, self.hd).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.hd) + ext_mask
        probs = F.dropout(torch.softmax(scores, dim=-1), self.p, self.training)
        ctx = (probs @ v).transpose(1, 2).reshape(B, S, d)
        a = F.dropout(self.attn_out(ctx), self.p, self.training)
        if self.adapter_attn is not None:
            a = self.adapter_attn(a)
        x1 = self.attn_ln(x + a)
        f = F.dropout(self.out(F.gelu(self.inter(x1))), self.p, self.training)
        if self.adapter_ffn is not None:
            f = self.adapter_ffn(f)
        return self.out_ln(x1 + f)


class BertClassifier(nn.Module):
    def __init__(self, a, adapter_m):
        super().__init__()
        d = a.hidden
        self.p = a.dropout
        self.word = nn.Embedding(a.vocab, d)
        self.pos = nn.Embedding(a.max_pos, d)
        self.tok = nn.Embedding(2, d)
        self.emb_ln = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList(Layer(d, a.heads, a.intermediate, a.dropout, adapter_m) for _ in range(a.layers))
        self.pooler = nn.Linear(d, d)
        self.classifier = nn.Linear(d, a.labels)

    def forward(self, ids, tt, mask):
        S = ids.shape[1]
        x = self.word(ids) + self.pos(torch.arange(S))[None] + self.tok(tt)
        x = F.dropout(self.emb_ln(x), self.p, self.training)
        ext = (1.0 - mask.to(x.dtype))[:, None, None, :] * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, ext)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return self.classifier(F.dropout(pooled, self.p, self.training))


def main():
    torch.manual_seed(args.seed)
    info = blas_info()
    if not args.quiet:
        print(json.dumps({'layout': args.layout, 'torch': torch.__version__, 'torch_threads': torch.get_num_threads(),
                          'interop_threads': torch.get_num_interop_threads(), **info,
                          'env': {k: os.environ.get(k) for k in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS',
                                                                 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')}}),
              file=sys.stderr)
        print(torch.__config__.parallel_info(), file=sys.stderr)

    model = BertClassifier(args, args.bottleneck if args.mode == 'adapter' else 0)
    for name, p in model.named_parameters():
        if args.mode == 'full':
            p.requires_grad_(True)
        elif args.mode == 'head':
            p.requires_grad_(name.startswith('classifier.'))
        else:
            p.requires_grad_(name.startswith('classifier.') or 'adapter_' in name or '_ln.' in name)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    model.train()

    g = torch.Generator().manual_seed(args.seed + 1)
    B, S = args.batch, args.seq
    ids = torch.randint(0, args.vocab, (B, S), generator=g)
    ids[:, 0] = 101
    tt = torch.zeros(B, S, dtype=torch.long)
    tt[:, S // 2:] = 1
    mask = torch.ones(B, S, dtype=torch.long)
    labels = torch.randint(0, args.labels, (B,), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(ids, tt, mask), labels)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    secs = []
    for _ in range(max(args.steps, 1)):
        t0 = time.perf_counter()
        loss = step()
        secs.append(time.perf_counter() - t0)
    # median: this 2-core VM shows run-to-run swings of tens of percent; the per-step list is in step_secs
    dt = sorted(secs)[len(secs) // 2] if len(secs) % 2 else sum(sorted(secs)[len(secs) // 2 - 1:len(secs) // 2 + 1]) / 2
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    print(json.dumps({
        'impl': 'pytorch', 'mode': args.mode, 'batch': B, 'seq': S, 'threads': torch.get_num_threads(),
        'layout': args.layout, 'sec_per_step': round(dt, 4), 'steps_per_s': round(1.0 / dt, 4),
        'peak_rss_mb': round(rss_mb, 1),
        'sec_per_step_mean': round(sum(secs) / len(secs), 4), 'step_secs': [round(x, 3) for x in secs],
        'blas_threads': info['blas_threads'], 'blas': info['blas'], 'blas_core': info['blas_core'],
        'torch': torch.__version__, 'steps': args.steps, 'warmup': args.warmup, 'dropout': args.dropout,
        'bottleneck': args.bottleneck if args.mode == 'adapter' else None,
        'trainable_params': sum(p.numel() for p in params),
        'total_params': sum(p.numel() for p in model.parameters()), 'loss': round(loss, 6),
    }), flush=True)


if __name__ == '__main__':
    main()
