/** AdamW / SGD / clipping against independent float64 re-implementations and, where installed, torch. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { AdamW, clipGradNorm, defaultNoDecay, type Param, SGD } from '../../../trainer/train/optimizer.ts';
import { PYTHON, requireTorch } from '../../support/python-torch.ts';

/** Deterministic values in [-1, 1) (mulberry32). */
function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return scale * (2 * (((t ^ (t >>> 14)) >>> 0) / 4294967296) - 1);
  });
}

// One weight, one bias, one LayerNorm weight: the last two take no decay under the default rule.
const names = ['encoder.adapter.down.weight', 'encoder.adapter.down.bias', 'encoder.LayerNorm.weight'];
const sizes = [12, 4, 5];
const init = (): Float32Array[] => sizes.map((n, k) => values(n, 1 + k));
// Gradients of mixed scale so the bias corrections and eps matter.
const grads = (t: number): Float32Array[] => sizes.map((n, k) => values(n, 100 * (t + 1) + k, k === 1 ? 1e-3 : 1));
const lrs = [1e-2, 8e-3, 5e-3, 5e-3, 2e-3, 1e-3, 0];
const hyper = { beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 };
const asParams = (ps: Float32Array[]): Param[] => ps.map((data, k) => ({ name: names[k], data }));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

/** torch.optim.AdamW, written out in float64. */
function adamwReference(steps: number): { p: Float64Array[]; m: Float64Array[]; v: Float64Array[] } {
  const { beta1: b1, beta2: b2, eps, weightDecay } = hyper;
  const p = init().map((a) => Float64Array.from(a));
  const m = p.map((a) => new Float64Array(a.length));
  const v = p.map((a) => new Float64Array(a.length));
  for (let s = 0; s < steps; s++) {
    const t = s + 1;
    const lr = lrs[s];
    const g = grads(s);
    p.forEach((pk, k) => {
      const wd = names[k].endsWith('.bias') || names[k].includes('LayerNorm') ? 0 : weightDecay;
      for (let i = 0; i < pk.length; i++) {
        pk[i] -= lr * wd * pk[i];
        m[k][i] = b1 * m[k][i] + (1 - b1) * g[k][i];
        v[k][i] = b2 * v[k][i] + (1 - b2) * g[k][i] ** 2;
        const mhat = m[k][i] / (1 - b1 ** t);
        const vhat = v[k][i] / (1 - b2 ** t);
        pk[i] -= (lr * mhat) / (Math.sqrt(vhat) + eps);
      }
    });
  }
  return { p, m, v };
}

function runAdamW(steps = lrs.length): { p: Float32Array[]; opt: AdamW } {
  const p = init();
  const opt = new AdamW(asParams(p), { lr: 1, ...hyper });
  for (let s = 0; s < steps; s++) opt.step(grads(s), lrs[s]);
  return { p, opt };
}

test('AdamW matches a float64 re-implementation over several steps (bias correction, decoupled decay, no-decay names)', () => {
  for (const steps of [1, 2, lrs.length]) {
    const { p, opt } = runAdamW(steps);
    const ref = adamwReference(steps);
    p.forEach((pk, k) => assert.ok(maxDiff(pk, ref.p[k]) < 2e-6, `${names[k]} after ${steps} steps: ${maxDiff(pk, ref.p[k])}`));
    const st = opt.state();
    assert.equal(st.step, steps);
    st.m.forEach((mk, k) => assert.ok(maxDiff(mk, ref.m[k]) < 1e-6));
    st.v.forEach((vk, k) => assert.ok(maxDiff(vk, ref.v[k]) < 1e-6));
  }
  // The first step moves every coordinate by about lr (Adam's scale invariance), decay aside.
  const p = init();
  const before = p.map((a) => Float32Array.from(a));
  new AdamW(asParams(p), { lr: 1e-3, weightDecay: 0 }).step(grads(0));
  p.forEach((pk, k) => pk.forEach((x, i) => assert.ok(Math.abs(Math.abs(x - before[k][i]) - 1e-3) < 1e-5 * (k === 1 ? 10 : 1))));
});

test('AdamW: gradients by name equal gradients by position; a missing or misshapen gradient throws', () => {
  const byList = runAdamW().p;
  const p = init();
  const opt = new AdamW(asParams(p), { lr: 1, ...hyper });
  lrs.forEach((lr, s) =>
    opt.step(
      new Map([
        ...grads(s)
          .map((g, k): [string, Float32Array] => [names[k], g])
          .reverse(),
        ['frozen.weight', new Float32Array(3)],
      ]),
      lr,
    ),
  );
  assert.deepEqual(p, byList);
  assert.throws(() => opt.step(new Map([[names[0], grads(0)[0]]]), 1e-3), /no gradient for parameter "encoder\.adapter\.down\.bias"/);
  assert.throws(() => opt.step(grads(0).slice(1), 1e-3), /2 gradients for 3 parameters/);
  assert.throws(
    () => opt.step([grads(0)[0], new Float32Array(3), grads(0)[2]], 1e-3),
    /gradient of "encoder\.adapter\.down\.bias" has 3 values, the parameter 4/,
  );
  assert.throws(() => opt.step(grads(0), Number.NaN), RangeError);
  assert.throws(() => new AdamW(asParams(init()), { lr: 1e-3, beta1: 1 }), RangeError);
});

test('AdamW: state() / loadState() resume exactly where a run left off', () => {
  const straight = runAdamW().p;
  const first = runAdamW(3);
  const saved = first.opt.state();
  const copy = { step: saved.step, m: saved.m.map((a) => Float32Array.from(a)), v: saved.v.map((a) => Float32Array.from(a)) };
  const p = first.p.map((a) => Float32Array.from(a));
  const resumed = new AdamW(asParams(p), { lr: 1, ...hyper });
  resumed.loadState(copy);
  assert.equal(resumed.stepCount, 3);
  for (let s = 3; s < lrs.length; s++) resumed.step(grads(s), lrs[s]);
  assert.deepEqual(p, straight);
  assert.throws(() => resumed.loadState({ step: 1, m: copy.m.slice(1), v: copy.v }), /moment tensors for 3 parameters/);
  assert.throws(
    () => resumed.loadState({ step: 1, m: [copy.m[0], new Float32Array(1), copy.m[2]], v: copy.v }),
    /moments of "encoder\.adapter\.down\.bias"/,
  );
});

test('default no-decay rule: biases and LayerNorm weights (Hugging Face Trainer)', () => {
  assert.deepEqual(
    ['a.bias', 'bert.embeddings.LayerNorm.weight', 'x.LayerNorm.bias', 'a.weight', 'adapter.up.weight', 'biased.weight'].map(
      defaultNoDecay,
    ),
    [true, true, true, false, false, false],
  );
  // Custom predicate: decay everything.
  const p = [Float32Array.from([2])];
  new AdamW([{ name: 'x.bias', data: p[0] }], { lr: 0.5, weightDecay: 0.1, noDecay: () => false }).step([new Float32Array(1)]);
  assert.equal(p[0][0], Math.fround(2 * (1 - 0.05)));
});

test('SGD: exactly p - lr*g without weight decay; coupled decay p - lr*(g + wd*p) off the no-decay names', () => {
  const p = init();
  const before = p.map((a) => Float32Array.from(a));
  const g = grads(0);
  new SGD(asParams(p), { lr: 0.1 }).step(g);
  p.forEach((pk, k) => pk.forEach((x, i) => assert.equal(x, Math.fround(before[k][i] - 0.1 * g[k][i]))));
  const q = init();
  new SGD(asParams(q), { lr: 1, weightDecay: 0.5 }).step(g, 0.25);
  q.forEach((qk, k) =>
    qk.forEach((x, i) => {
      const wd = k === 0 ? 0.5 : 0;
      assert.equal(x, Math.fround(before[k][i] - 0.25 * (g[k][i] + wd * before[k][i])));
    }),
  );
  assert.throws(() => new SGD(asParams(init()), { lr: 1 }).step(g.slice(0, 2)), /2 gradients for 3 parameters/);
});

test('clipGradNorm: global norm in float64, scaled by maxNorm/(norm+1e-6) like torch, 0 = off', () => {
  const g = grads(3);
  let sq = 0;
  for (const a of g) for (const x of a) sq += x * x;
  const norm = Math.sqrt(sq);
  const copy = g.map((a) => Float32Array.from(a));
  assert.equal(clipGradNorm(copy, 0), norm);
  assert.deepEqual(copy, g, 'maxNorm 0 leaves gradients alone');
  assert.equal(clipGradNorm(copy, 1e6), norm);
  assert.deepEqual(copy, g, 'under the limit nothing changes');
  assert.equal(clipGradNorm(copy, 0.5), norm, 'returns the norm before clipping');
  const scale = 0.5 / (norm + 1e-6);
  copy.forEach((a, k) => a.forEach((x, i) => assert.equal(x, Math.fround(g[k][i] * scale))));
  let after = 0;
  for (const a of copy) for (const x of a) after += x * x;
  assert.ok(Math.abs(Math.sqrt(after) - 0.5) < 1e-6);
  // A norm a hair under maxNorm is still scaled (torch clamps the coefficient, it does not compare norms).
  const edge = [Float32Array.from([3, 4])];
  clipGradNorm(edge, 5 + 5e-7);
  assert.ok(edge[0][0] < 3);
  assert.equal(clipGradNorm([], 1), 0);
  assert.throws(() => clipGradNorm(g, -1), RangeError);
});

const TORCH_SCRIPT = `
import json, sys, torch
d = json.load(sys.stdin)
h = d["hyper"]
ps = [torch.tensor(x, dtype=torch.float32, requires_grad=True) for x in d["init"]]
groups = [{"params": [p], "weight_decay": h["weightDecay"] if decay else 0.0} for p, decay in zip(ps, d["decay"])]
opt = torch.optim.AdamW(groups, lr=1.0, betas=(h["beta1"], h["beta2"]), eps=h["eps"])
for lr, gs in zip(d["lrs"], d["grads"]):
    for g in opt.param_groups: g["lr"] = lr
    for p, g in zip(ps, gs): p.grad = torch.tensor(g, dtype=torch.float32)
    opt.step()
adamw = [p.detach().tolist() for p in ps]
m = [opt.state[p]["exp_avg"].tolist() for p in ps]
v = [opt.state[p]["exp_avg_sq"].tolist() for p in ps]
qs = [torch.tensor(x, dtype=torch.float32, requires_grad=True) for x in d["init"]]
sgd = torch.optim.SGD([{"params": [q], "weight_decay": 0.5 if decay else 0.0} for q, decay in zip(qs, d["decay"])], lr=0.25)
for q, g in zip(qs, d["grads"][0]): q.grad = torch.tensor(g, dtype=torch.float32)
sgd.step()
cs = [torch.tensor(x, dtype=torch.float32, requires_grad=True) for x in d["init"]]
for c, g in zip(cs, d["grads"][3]): c.grad = torch.tensor(g, dtype=torch.float32)
norm = torch.nn.utils.clip_grad_norm_(cs, 0.5)
print(json.dumps({"adamw": adamw, "m": m, "v": v, "sgd": [q.detach().tolist() for q in qs], "norm": norm.item(), "clipped": [c.grad.tolist() for c in cs]}))`;

test('AdamW, SGD and clipGradNorm match torch (skipped without python3-torch; under CI that fails)', (t) => {
  if (!requireTorch(t)) return;
  const input = JSON.stringify({
    init: init().map((a) => [...a]),
    decay: names.map((n) => !defaultNoDecay(n)),
    hyper,
    lrs,
    grads: lrs.map((_, s) => grads(s).map((a) => [...a])),
  });
  const r = spawnSync(PYTHON, ['-c', TORCH_SCRIPT], { input, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const torch = JSON.parse(r.stdout) as {
    adamw: number[][];
    m: number[][];
    v: number[][];
    sgd: number[][];
    norm: number;
    clipped: number[][];
  };

  const { p, opt } = runAdamW();
  p.forEach((pk, k) => assert.ok(maxDiff(pk, torch.adamw[k]) < 1e-6, `${names[k]}: ${maxDiff(pk, torch.adamw[k])} from torch`));
  opt.state().m.forEach((mk, k) => assert.ok(maxDiff(mk, torch.m[k]) < 1e-6));
  opt.state().v.forEach((vk, k) => assert.ok(maxDiff(vk, torch.v[k]) < 1e-6));

  const q = init();
  new SGD(asParams(q), { lr: 0.25, weightDecay: 0.5 }).step(grads(0));
  q.forEach((qk, k) => assert.ok(maxDiff(qk, torch.sgd[k]) < 1e-7, `SGD ${names[k]}`));

  const c = grads(3);
  const norm = clipGradNorm(c, 0.5);
  assert.ok(Math.abs(norm - torch.norm) < 1e-6 * norm, `norm ${norm} vs torch ${torch.norm}`);
  c.forEach((ck, k) => assert.ok(maxDiff(ck, torch.clipped[k]) < 1e-7, `clipped ${names[k]}`));
});
