#!/usr/bin/python3
"""PyTorch peer of test/bench/serving.ts: inference of the same BERT shape with Houlsby adapters in every
layer, on the same token ids, with the same number of threads (OpenBLAS and torch's own pool).

    /usr/bin/python3 test/bench/serving_torch.py --config BASE/config.json --inputs inputs.json \
        [--threads 2] [--bottleneck 64] [--batch-iterations 5] [--pooler 1]

inputs.json: {"single": [[ids...], ...], "batch": [[ids...] x 32]}. Single texts run one per call (their p50
and p99 in ms); the batch runs padded to its longest row (median time -> texts/s). Random weights of the
same shapes (the time of a dense forward does not depend on the values). The model is the training
benchmark's (step_torch.py), in eval mode under torch.inference_mode. Prints one JSON line on stdout.
"""
import argparse
import json
import os
import re
import sys
import time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('--config', required=True)
ap.add_argument('--inputs', required=True)
ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--bottleneck', type=int, default=64)
ap.add_argument('--batch-iterations', type=int, default=5)
ap.add_argument('--pooler', type=int, default=1)
ap.add_argument('--labels', type=int, default=2)
args = ap.parse_args()

# OpenBLAS reads its thread count when torch loads it.
os.environ['OPENBLAS_NUM_THREADS'] = str(args.threads)
with open(args.config) as f:
    cfg = json.load(f)

# step_torch.py parses its own flags when imported: hand it this model's shape.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.argv = [
    'step_torch.py', '--dropout', '0', '--bottleneck', str(args.bottleneck), '--layers', str(cfg['num_hidden_layers']),
    '--hidden', str(cfg['hidden_size']), '--heads', str(cfg['num_attention_heads']),
    '--intermediate', str(cfg['intermediate_size']), '--vocab', str(cfg['vocab_size']),
    '--max-pos', str(cfg['max_position_embeddings']), '--labels', str(args.labels), '--quiet',
]
import torch  # noqa: E402

import step_torch  # noqa: E402

torch.set_num_threads(args.threads)


def pad(rows):
    S = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), S, dtype=torch.long)
    mask = torch.zeros(len(rows), S, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, torch.zeros_like(ids), mask


def quantile(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main():
    torch.manual_seed(0)
    with open(args.inputs) as f:
        inputs = json.load(f)
    model = step_torch.BertClassifier(step_torch.args, args.bottleneck).eval()
    if not args.pooler:
        model.pooler = torch.nn.Identity()  # as the runtime on a base without a pooler: [CLS] -> classifier
    single = [pad([r]) for r in inputs['single']]
    batch = pad(inputs['batch'])
    with torch.inference_mode():
        model(*batch)
        model(*single[0])
        lat = []
        for x in single:
            t0 = time.perf_counter()
            model(*x)
            lat.append((time.perf_counter() - t0) * 1000)
        bt = []
        for _ in range(args.batch_iterations):
            t0 = time.perf_counter()
            model(*batch)
            bt.append(time.perf_counter() - t0)
    info = step_torch.blas_info()
    # Debian builds torch against the generic libblas.so.3, which the alternatives system points at OpenBLAS.
    shown = torch.__config__.show()
    blas_lines = re.findall(r'(?:BLAS|LAPACK)_INFO=\w+', shown)
    print(json.dumps({
        'p50': round(quantile(lat, 0.5), 2), 'p99': round(quantile(lat, 0.99), 2),
        'batchRowsPerSec': len(inputs['batch']) / quantile(bt, 0.5),
        'blas': f"{info['blas']} ({info['blas_core']}, {info['blas_threads']} threads)",
        'config': f"torch.__config__: {', '.join(blas_lines)}; libraries mapped: {', '.join(info['blas_lib'] or [])}",
        'threads': torch.get_num_threads(), 'torch': torch.__version__,
    }), flush=True)


if __name__ == '__main__':
    main()
