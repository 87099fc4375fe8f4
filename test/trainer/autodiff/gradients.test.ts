/** The walker refuses a gradient whose shape or dtype differs from its input's, naming the op and the input. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gradients } from '../../../trainer/autodiff/gradients.ts';
import { defineRule, type GradientRule } from '../../../trainer/autodiff/rule.ts';
import { gradientRules } from '../../../trainer/autodiff/rules/index.ts';
import { Graph } from '../../../trainer/graph/graph.ts';
import * as op from '../../../trainer/graph/ops.ts';

/** loss = Σ neg(w) for w of shape [4], differentiated with `negRule` in place of the real Neg rule. */
function gradWithNegRule(negRule: GradientRule): void {
  const g = new Graph('float32');
  const w = g.input('w', 'float32', [4]);
  const loss = op.reduceSum(op.neg(w), [0], false);
  gradients(loss, [w], new Map([...gradientRules, ['Neg', negRule]]));
}

test('the real rules pass the check', () => {
  assert.doesNotThrow(() => gradWithNegRule(gradientRules.get('Neg')!));
});

test('a rule returning [1, d] for a [d] input throws, naming the op and the input', () => {
  const wrongShape = defineRule('Neg', (dy) => [() => op.unsqueeze(op.neg(dy), [0])]);
  assert.throws(() => gradWithNegRule(wrongShape), {
    message: 'autodiff: the Neg rule gives input 0 ("w") a gradient of float32 [1, 4], but that input is float32 [4]',
  });
});

test('a rule returning the wrong dtype throws', () => {
  const wrongType = defineRule('Neg', (dy) => [() => op.cast(op.neg(dy), 'float64')]);
  assert.throws(
    () => gradWithNegRule(wrongType),
    /the Neg rule gives input 0 \("w"\) a gradient of float64 \[4\], but that input is float32 \[4\]/,
  );
});

test('defineRule names the op once and hands the rule the output gradient', () => {
  const rule = defineRule('Neg', (dy) => [() => dy]);
  assert.equal(rule.op, 'Neg');
  assert.throws(() => rule.grad([null], { op: 'Neg', inputs: [], outputs: [], attrs: {} }), /Neg reached without a gradient on its output/);
});

test('constants are found by tensor; computed tensors are not constants', () => {
  const g = new Graph('float32');
  const c = g.int64s([0, 2]);
  const x = g.input('x', 'float32', [2]);
  assert.deepEqual([...(g.constantOf(c)?.data ?? [])], [0n, 2n]);
  assert.equal(g.constantOf(x), undefined);
  assert.equal(g.constantOf(op.neg(x)), undefined);
  assert.deepEqual(
    g.constants.map((k) => k.tensor),
    [c],
  );
});
