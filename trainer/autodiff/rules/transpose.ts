import { transpose } from '../../graph/ops.ts';
import { dyOf, type GradientRule } from '../rule.ts';

/** The gradient goes back through the inverse permutation. */
export const transposeGrad: GradientRule = {
  op: 'Transpose',
  grad: (dys, node) => {
    const perm = node.attrs.perm;
    if (perm?.kind !== 'ints') throw new Error('autodiff: Transpose without perm');
    const inverse: number[] = [];
    perm.value.forEach((p, i) => (inverse[p] = i));
    return [() => transpose(dyOf(dys, 'Transpose'), inverse)];
  },
};
