import { reshapeTo, shapeOf } from '../../graph/ops.ts';
import { dyOf, input, type GradientRule } from '../rule.ts';

export const unsqueezeGrad: GradientRule = {
  op: 'Unsqueeze',
  grad: (dys, node) => {
    const x = input(node, 0);
    return [() => reshapeTo(dyOf(dys, 'Unsqueeze'), shapeOf(x), x.shape), null];
  },
};
