import { transpose } from '../../graph/ops.ts';
import { defineRule } from '../rule.ts';

/** The gradient goes back through the inverse permutation. */
export const transposeGrad = defineRule('Transpose', (dy, node) => {
  const perm = node.attrs.perm;
  if (perm?.kind !== 'ints') throw new Error('autodiff: Transpose without perm');
  const inverse: number[] = [];
  perm.value.forEach((p, i) => (inverse[p] = i));
  return [() => transpose(dy, inverse)];
});
