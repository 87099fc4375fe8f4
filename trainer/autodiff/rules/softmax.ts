import { mul, reduceSum, sub } from '../../graph/ops.ts';
import { defineRule } from '../rule.ts';

/** y = softmax(x): dx = y ⊙ (dy − Σ(dy ⊙ y)) along the softmax axis. */
export const softmaxGrad = defineRule('Softmax', (dy, node) => {
  const y = node.outputs[0];
  const axis = Number(node.attrs.axis?.value ?? -1);
  return [() => mul(y, sub(dy, reduceSum(mul(dy, y), [axis], true)))];
});
