import { mul } from '../../graph/ops.ts';
import { dyOf, input, type GradientRule } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

export const mulGrad: GradientRule = {
  op: 'Mul',
  grad: (dys, node) => {
    const dy = dyOf(dys, 'Mul');
    const [a, b] = [input(node, 0), input(node, 1)];
    return [() => unbroadcast(mul(dy, b), a.shape), () => unbroadcast(mul(dy, a), b.shape)];
  },
};
