/** AdamW / SGD / clipping against an independent float64 re-implementation and, where installed, torch.optim. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { AdamW, clipGradNorm, SGD } from '../../../trainer/train/optimizer.ts';
import { randomArray } from '../../support/gradcheck.ts';

const grads = (t: number) => [Float32Array.from(randomArray(6, 100 + t)), Float32Array.from(randomArray(3, 200 + t))];
const init = () => [Float32Array.from(randomArray(6, 1)), Float32Array.from(randomArray(3, 2))];
const names = ['layer.weight', 'layer.bias'];
const lrs = [1e-2, 5e-3, 2e-3, 1e-3];

function adamwReference(): Float64Array[] {
  const p = init().map((a) => Float64Array.from(a));
  const m = p.map((a) => new Float64Array(a.length));
  const v = p.map((a) => new Float64Array(a.length));
  lrs.forEach((lr, s) => {
    const t = s + 1;
    const g = grads(s);
    p.forEach((pk, k) => {
      const decay = names[k].endsWith('.bias') ? 0 : 0.1;
      for (let i = 0; i < pk.length; i++) {
        pk[i] *= 1 - lr * decay;
        m[k][i] = 0.9 * m[k][i] + 0.1 * g[k][i];
        v[k][i] = 0.999 * v[k][i] + 0.001 * g[k][i] ** 2;
        const mhat = m[k][i] / (1 - 0.9 ** t);
        const vhat = v[k][i] / (1 - 0.999 ** t);
        pk[i] -= (lr * mhat) / (Math.sqrt(vhat) + 1e-8);
      }
    });
  });
  return p;
}

function runAdamW(): Float32Array[] {
  const p = init();
  const opt = new AdamW(p.map((data, k) => ({ name: names[k], data })), { lr: 1e-2, weightDecay: 0.1 });
  lrs.forEach((lr, s) => opt.step(grads(s), lr));
  return p;
}

test('AdamW matches a float64 re-implementation (bias correction, decoupled decay, no decay on biases)', () => {
  const [ours, ref] = [runAdamW(), adamwReference()];
  ours.forEach((pk, k) => pk.forEach((x, i) => assert.ok(Math.abs(x - ref[k][i]) < 1e-6, `${names[k]}[${i}]: ${x} vs ${ref[k][i]}`)));
});

test('AdamW matches torch.optim.AdamW', (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return t.skip('python3-torch is not installed');
  const script = `
import json, sys, torch
d = json.load(sys.stdin)
ps = [torch.tensor(x, dtype=torch.float32, requires_grad=True) for x in d["init"]]
opt = torch.optim.AdamW([{"params": [ps[0]], "weight_decay": 0.1}, {"params": [ps[1]], "weight_decay": 0.0}], lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
for lr, gs in zip(d["lrs"], d["grads"]):
    for g in opt.param_groups: g["lr"] = lr
    for p, g in zip(ps, gs): p.grad = torch.tensor(g, dtype=torch.float32)
    opt.step()
print(json.dumps([p.detach().tolist() for p in ps]))`;
  const input = JSON.stringify({ init: init().map((a) => [...a]), lrs, grads: lrs.map((_, s) => grads(s).map((a) => [...a])) });
  const r = spawnSync('/usr/bin/python3', ['-c', script], { input, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const torchOut: number[][] = JSON.parse(r.stdout);
  runAdamW().forEach((pk, k) => pk.forEach((x, i) => assert.ok(Math.abs(x - torchOut[k][i]) < 1e-6, `${names[k]}[${i}]: ${x} vs torch ${torchOut[k][i]}`)));
});

test('SGD is exactly p - lr*g without weight decay', () => {
  const p = init();
  const before = p.map((a) => Float32Array.from(a));
  const g = grads(0);
  new SGD(p.map((data, k) => ({ name: names[k], data })), { lr: 1 }).step(g, 1);
  p.forEach((pk, k) => pk.forEach((x, i) => assert.equal(x, Math.fround(before[k][i] - g[k][i]))));
});

test('clipGradNorm: global norm in float64, scaled like torch clip_grad_norm_, 0 = off', () => {
  const g = grads(3);
  const norm = Math.sqrt(g.flatMap((a) => [...a]).reduce((s, x) => s + x * x, 0));
  const copy = g.map((a) => Float32Array.from(a));
  assert.ok(Math.abs(clipGradNorm(copy, 0) - norm) < 1e-12);
  assert.deepEqual(copy, g, 'maxNorm 0 leaves gradients alone');
  assert.ok(Math.abs(clipGradNorm(copy, 0.5) - norm) < 1e-12);
  const after = Math.sqrt(copy.flatMap((a) => [...a]).reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(after - 0.5 * norm / (norm + 1e-6)) < 1e-6);
  const big = grads(4);
  clipGradNorm(big, 1e6);
  assert.deepEqual(big, grads(4), 'under the limit nothing changes');
});
