/** Every gradient rule against central finite differences in float64 (relative error printed and bounded). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Graph, Tensor } from '../../../trainer/graph/graph.ts';
import * as op from '../../../trainer/graph/ops.ts';
import { gradCheck, type InputSpec, randomArray } from '../../support/gradcheck.ts';

const BOUND = 1e-6;

async function check(name: string, build: (g: Graph, x: Tensor[]) => Tensor, specs: InputSpec[]): Promise<void> {
  const { maxRelError, perInput } = await gradCheck(build, specs);
  console.log(`# ${name}: max relative error ${maxRelError.toExponential(2)} ${JSON.stringify(perInput)}`);
  assert.ok(maxRelError < BOUND, `${name}: relative error ${maxRelError} exceeds ${BOUND}`);
}

const positive = (n: number, seed: number) => randomArray(n, seed, 0.5, 2);

test('Add with broadcasting (bias over rows)', () =>
  check('Add', (_g, [a, b]) => op.add(a, b), [
    { name: 'a', shape: [2, 3, 4] },
    { name: 'b', shape: [4] },
  ]));
test('Add with broadcasting on a middle axis', () =>
  check('Add', (_g, [a, b]) => op.add(a, b), [
    { name: 'a', shape: [2, 3, 4] },
    { name: 'b', shape: [2, 1, 4] },
  ]));
test('Sub', () =>
  check('Sub', (_g, [a, b]) => op.sub(a, b), [
    { name: 'a', shape: [3, 4] },
    { name: 'b', shape: [3, 1] },
  ]));
test('Mul', () =>
  check('Mul', (_g, [a, b]) => op.mul(a, b), [
    { name: 'a', shape: [2, 3, 4] },
    { name: 'b', shape: [4] },
  ]));
test('Div', () =>
  check('Div', (_g, [a, b]) => op.div(a, b), [
    { name: 'a', shape: [3, 4] },
    { name: 'b', shape: [4], data: positive(4, 5) },
  ]));
test('Pow', () => check('Pow', (_g, [a]) => op.pow(a, 3), [{ name: 'a', shape: [3, 4] }]));
test('Neg', () => check('Neg', (_g, [a]) => op.neg(a), [{ name: 'a', shape: [5] }]));
test('Exp', () => check('Exp', (_g, [a]) => op.exp(a), [{ name: 'a', shape: [5] }]));
test('Sqrt', () => check('Sqrt', (_g, [a]) => op.sqrt(a), [{ name: 'a', shape: [5], data: positive(5, 3) }]));
test('Tanh', () => check('Tanh', (_g, [a]) => op.tanh(a), [{ name: 'a', shape: [2, 5] }]));
test('Sigmoid', () => check('Sigmoid', (_g, [a]) => op.sigmoid(a), [{ name: 'a', shape: [2, 5] }]));
test('Relu (inputs away from the kink)', () =>
  check('Relu', (_g, [a]) => op.relu(a), [
    { name: 'a', shape: [8], data: Float64Array.from(randomArray(8, 4), (v) => (v < 0 ? v - 0.1 : v + 0.1)) },
  ]));
test('Identity', () => check('Identity', (_g, [a]) => op.identity(a), [{ name: 'a', shape: [3] }]));
test('MatMul (batched)', () =>
  check('MatMul', (_g, [a, b]) => op.matmul(a, b), [
    { name: 'a', shape: [2, 3, 4] },
    { name: 'b', shape: [2, 4, 5] },
  ]));
test('MatMul with a broadcast right operand', () =>
  check('MatMul', (_g, [a, b]) => op.matmul(a, b), [
    { name: 'a', shape: [2, 3, 4] },
    { name: 'b', shape: [4, 5] },
  ]));
for (const [transA, transB] of [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
]) {
  test(`Gemm transA=${transA} transB=${transB} with bias`, () =>
    check('Gemm', (_g, [a, b, c]) => op.gemm(a, b, c, { transA, transB }), [
      { name: 'a', shape: transA ? [4, 3] : [3, 4] },
      { name: 'b', shape: transB ? [5, 4] : [4, 5] },
      { name: 'c', shape: [5] },
    ]));
}
test('Softmax', () => check('Softmax', (_g, [a]) => op.softmax(a, -1), [{ name: 'a', shape: [2, 3, 5] }]));
test('Softmax on axis 1', () => check('Softmax', (_g, [a]) => op.softmax(a, 1), [{ name: 'a', shape: [2, 3, 5] }]));
test('LogSoftmax', () => check('LogSoftmax', (_g, [a]) => op.logSoftmax(a, -1), [{ name: 'a', shape: [3, 4] }]));
test('Reshape', () => check('Reshape', (_g, [a]) => op.mul(op.reshape(a, [6, 2]), op.reshape(a, [6, 2])), [{ name: 'a', shape: [3, 4] }]));
test('Transpose', () => check('Transpose', (_g, [a]) => op.transpose(a, [2, 0, 1]), [{ name: 'a', shape: [2, 3, 4] }]));
test('Unsqueeze', () => check('Unsqueeze', (_g, [a]) => op.unsqueeze(a, [1]), [{ name: 'a', shape: [2, 3] }]));
test('Gather (embedding lookup with repeated ids)', () =>
  check('Gather', (_g, [table, ids]) => op.gather(table, ids), [
    { name: 'table', shape: [5, 3] },
    { name: 'ids', shape: [2, 3], dtype: 'int64', data: BigInt64Array.from([0n, 3n, 3n, 4n, 0n, 1n]) },
  ]));
test('ReduceSum keepdims', () => check('ReduceSum', (_g, [a]) => op.reduceSum(a, [1], true), [{ name: 'a', shape: [2, 3, 4] }]));
test('ReduceSum over two axes', () => check('ReduceSum', (_g, [a]) => op.reduceSum(a, [0, 2], false), [{ name: 'a', shape: [2, 3, 4] }]));
test('ReduceMean', () => check('ReduceMean', (_g, [a]) => op.reduceMean(a, [-1], false), [{ name: 'a', shape: [2, 3, 4] }]));
test('Where (masking)', () =>
  check('Where', (_g, [c, a, b]) => op.where(c, a, b), [
    { name: 'c', shape: [2, 3], dtype: 'bool', data: Uint8Array.from([1, 0, 1, 1, 0, 0]) },
    { name: 'a', shape: [2, 3] },
    { name: 'b', shape: [3] },
  ]));
