import { reshapeTo, shapeOf } from '../../graph/ops.ts';
import { dyOf, input, type GradientRule } from '../rule.ts';

/** The gradient takes the input's runtime shape back; the target shape takes none. */
export const reshapeGrad: GradientRule = {
  op: 'Reshape',
  grad: (dys, node) => {
    const x = input(node, 0);
    return [() => reshapeTo(dyOf(dys, 'Reshape'), shapeOf(x), x.shape), null];
  },
};
