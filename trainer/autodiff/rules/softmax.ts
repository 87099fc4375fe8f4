import { mul, reduceSum, sub } from '../../graph/ops.ts';
import { dyOf, type GradientRule } from '../rule.ts';

/** y = softmax(x): dx = y ⊙ (dy − Σ(dy ⊙ y)) along the softmax axis. */
export const softmaxGrad: GradientRule = {
  op: 'Softmax',
  grad: (dys, node) => {
    const dy = dyOf(dys, 'Softmax');
    const y = node.outputs[0];
    const axis = Number(node.attrs.axis?.value ?? -1);
    return [() => mul(y, sub(dy, reduceSum(mul(dy, y), [axis], true)))];
  },
};
