import { exp, mul, reduceSum, sub } from '../../graph/ops.ts';
import { defineRule } from '../rule.ts';

/** y = log softmax(x): dx = dy − softmax(x) · Σ dy along the axis. */
export const logSoftmaxGrad = defineRule('LogSoftmax', (dy, node) => {
  const y = node.outputs[0];
  const axis = Number(node.attrs.axis?.value ?? -1);
  return [() => sub(dy, mul(exp(y), reduceSum(dy, [axis], true)))];
});
