import { where } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

/** The gradient goes to whichever branch was picked; the condition takes none. */
export const whereGrad = defineRule('Where', (dy, node) => {
  const [cond, a, b] = [input(node, 0), input(node, 1), input(node, 2)];
  return [null, () => unbroadcast(where(cond, dy, 0), a.shape), () => unbroadcast(where(cond, 0, dy), b.shape)];
});
