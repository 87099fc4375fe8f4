import { scatterAdd, unsqueeze, zerosLike } from '../../graph/ops.ts';
import { dyOf, input, type GradientRule } from '../rule.ts';

/** Embedding lookup: each picked row's gradient is added back into its row of the table; indices take none. */
export const gatherGrad: GradientRule = {
  op: 'Gather',
  grad: (dys, node) => {
    if (Number(node.attrs.axis?.value ?? 0) !== 0) throw new Error('autodiff: Gather gradient supports axis 0 only');
    const [table, indices] = [input(node, 0), input(node, 1)];
    return [() => scatterAdd(zerosLike(table), unsqueeze(indices, [-1]), dyOf(dys, 'Gather')), null];
  },
};
