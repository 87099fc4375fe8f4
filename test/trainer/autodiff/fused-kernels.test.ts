/**
 * Rules for ops onnxruntime runs in float32 only (LayerNormalization, Erf) and for Dropout (random):
 * checked against float32 finite differences and against independent float64 references.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gradients } from '../../../trainer/autodiff/gradients.ts';
import { Graph } from '../../../trainer/graph/graph.ts';
import { toOnnxModel } from '../../../trainer/graph/onnx-export.ts';
import * as op from '../../../trainer/graph/ops.ts';
import { createSession, hostTensor } from '../../../trainer/sessions/session.ts';
import { gradCheck, randomArray } from '../../support/gradcheck.ts';

const relError = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let diff = 0,
    scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
};

const shape = [3, 4, 6];
const x = randomArray(72, 11, -2, 2);
const gamma = randomArray(6, 12, 0.5, 1.5);
const beta = randomArray(6, 13);

/** x, γ, β of the LayerNorm checks, their float32 values held in the array type `to` makes. */
const layerNormInputs = (to: (v: Float32Array) => Float32Array | Float64Array) => [
  { name: 'x', shape, data: to(Float32Array.from(x)) },
  { name: 'w', shape: [6], data: to(Float32Array.from(gamma)) },
  { name: 'b', shape: [6], data: to(Float32Array.from(beta)) },
];

/** The fused LayerNormalization rule's gradient in float32, against float32 finite differences. */
const layerNormRule = () =>
  gradCheck(
    (_g, [a, w, b]) => op.layerNormalization(a, w, b, 1e-5).y,
    layerNormInputs((v) => v),
    { floatType: 'float32', step: 1e-2 },
  );

test('LayerNormalization: float32 rule vs float32 finite differences', async () => {
  const r = await layerNormRule();
  console.log(`# LayerNormalization float32 vs FD: ${r.maxRelError.toExponential(2)} ${JSON.stringify(r.perInput)}`);
  assert.ok(r.maxRelError < 5e-3);
});

test('LayerNormalization: float32 rule vs the float64 gradient of LayerNorm spelled out in basic ops', async () => {
  const ours = await layerNormRule();
  const reference = await gradCheck(
    (_g, [a, w, b]) => {
      const centered = op.sub(a, op.reduceMean(a, [-1], true));
      const variance = op.reduceMean(op.mul(centered, centered), [-1], true);
      return op.add(op.mul(op.div(centered, op.sqrt(op.add(variance, 1e-5))), w), b);
    },
    layerNormInputs((v) => Float64Array.from(v)),
  );
  assert.ok(reference.maxRelError < 1e-6, 'the float64 reference itself matches finite differences');
  for (const name of ['x', 'w', 'b']) {
    const e = relError(ours.analytic[name], reference.analytic[name]);
    console.log(`# LayerNormalization d${name}: float32 rule vs float64 reference ${e.toExponential(2)}`);
    assert.ok(e < 1e-5, `d${name}: ${e}`);
  }
});

test('Erf: float32 rule vs finite differences and the closed form 2/√π·exp(−x²) in float64', async () => {
  const xs = Float32Array.from(randomArray(20, 21, -2.5, 2.5));
  const r = await gradCheck((_g, [a]) => op.erf(a), [{ name: 'x', shape: [20], data: xs }], { floatType: 'float32', step: 1e-2 });
  console.log(`# Erf float32 vs FD: ${r.maxRelError.toExponential(2)}`);
  assert.ok(r.maxRelError < 5e-3);
  // gradCheck's loss is Σ erf(x)·R with the weights R it drew.
  const R = r.weights;
  const closed = Array.from(xs, (v, i) => (2 / Math.sqrt(Math.PI)) * Math.exp(-v * v) * R[i]);
  const e = relError(r.analytic.x, closed);
  console.log(`# Erf float32 rule vs float64 closed form: ${e.toExponential(2)}`);
  assert.ok(e < 1e-6);
});

test('Gelu: float32 rule vs finite differences and the closed form Φ(x) + x·φ(x) in float64', async () => {
  const xs = Float32Array.from(randomArray(20, 31, -3, 3));
  const r = await gradCheck((_g, [a]) => op.gelu(a), [{ name: 'x', shape: [20], data: xs }], { floatType: 'float32', step: 1e-2 });
  console.log(`# Gelu float32 vs FD: ${r.maxRelError.toExponential(2)}`);
  assert.ok(r.maxRelError < 5e-3);
  const R = r.weights;
  // JavaScript has no erf: Φ is integrated from φ in float64, independently of onnxruntime.
  const phi = (v: number) => Math.exp((-v * v) / 2) / Math.sqrt(2 * Math.PI);
  const cdf = (v: number) => {
    // Φ(v) = ∫_{-∞}^{v} φ: Simpson's rule from −10 (error far below float32 resolution).
    const n = 20000,
      a = -10,
      h = (v - a) / n;
    let s = phi(a) + phi(v);
    for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * phi(a + i * h);
    return (s * h) / 3;
  };
  const closed = Array.from(xs, (v, i) => (cdf(v) + v * phi(v)) * R[i]);
  const e = relError(r.analytic.x, closed);
  console.log(`# Gelu float32 rule vs float64 closed form: ${e.toExponential(2)}`);
  assert.ok(e < 1e-6);
});

test('Dropout: the gradient is dy·mask/(1−p) with the forward mask, and dropped elements get none', async () => {
  const g = new Graph('float32');
  const a = g.input('x', 'float32', [400]);
  const { y, mask } = op.dropout(a, 0.25, 7);
  const R = Float32Array.from(randomArray(400, 5));
  const w = g.constant(R, 'float32', [400], 'R');
  const loss = op.reduceSum(op.mul(y, w), [0], false);
  const dx = gradients(loss, [a]).get(a)!;
  g.output(y, 'y');
  g.output(mask, 'mask');
  g.output(dx, 'dx');
  const session = await createSession(toOnnxModel(g));
  const xs = Float32Array.from(randomArray(400, 6));
  const out = await session.run({ x: hostTensor(xs, [400]) });
  const m = out.mask.data as Uint8Array;
  const ys = out.y.data as Float32Array;
  const dxs = out.dx.data as Float32Array;
  let dropped = 0;
  for (let i = 0; i < 400; i++) {
    const expected = m[i] ? R[i] / 0.75 : 0;
    assert.ok(Math.abs(dxs[i] - expected) <= 1e-6 * Math.abs(expected) + 1e-7, `element ${i}`);
    assert.ok(Math.abs(ys[i] - (m[i] ? xs[i] / 0.75 : 0)) < 1e-6);
    dropped += m[i] ? 0 : 1;
  }
  console.log(`# Dropout p=0.25: ${dropped}/400 dropped`);
  assert.ok(dropped > 50 && dropped < 150, 'about a quarter dropped');
});
