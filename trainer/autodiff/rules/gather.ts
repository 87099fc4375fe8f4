import { scatterAdd, unsqueeze, zerosLike } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';

/** Embedding lookup: each picked row's gradient is added back into its row of the table; indices take none. */
export const gatherGrad = defineRule('Gather', (dy, node) => {
  if (Number(node.attrs.axis?.value ?? 0) !== 0) throw new Error('autodiff: Gather gradient supports axis 0 only');
  const [table, indices] = [input(node, 0), input(node, 1)];
  return [() => scatterAdd(zerosLike(table), unsqueeze(indices, [-1]), dy), null];
});
