import { div, sub, where } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';

/** Kept elements were scaled by 1/(1-p) in the forward pass; dropped ones pass no gradient. The mask is reused. */
export const dropoutGrad = defineRule('Dropout', (dy, node) => {
  const mask = node.outputs[1];
  const ratio = input(node, 1);
  if (!mask) throw new Error('autodiff: Dropout needs its mask output');
  return [() => div(where(mask, dy, 0), sub(1, ratio)), null, null];
});
