import { dyOf, input, type GradientRule } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

export const addGrad: GradientRule = {
  op: 'Add',
  grad: (dys, node) => {
    const dy = dyOf(dys, 'Add');
    return [() => unbroadcast(dy, input(node, 0).shape), () => unbroadcast(dy, input(node, 1).shape)];
  },
};
