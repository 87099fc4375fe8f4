import { neg } from '../../graph/ops.ts';
import { dyOf, input, type GradientRule } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

export const subGrad: GradientRule = {
  op: 'Sub',
  grad: (dys, node) => {
    const dy = dyOf(dys, 'Sub');
    return [() => unbroadcast(dy, input(node, 0).shape), () => unbroadcast(neg(dy), input(node, 1).shape)];
  },
};
