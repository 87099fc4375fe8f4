import { div, sub, where } from '../../graph/ops.ts';
import { dyOf, input, type GradientRule } from '../rule.ts';

/** Kept elements were scaled by 1/(1-p) in the forward pass; dropped ones pass no gradient. The mask is reused. */
export const dropoutGrad: GradientRule = {
  op: 'Dropout',
  grad: (dys, node) => {
    const mask = node.outputs[1];
    const ratio = input(node, 1);
    if (!mask) throw new Error('autodiff: Dropout needs its mask output');
    return [() => div(where(mask, dyOf(dys, 'Dropout'), 0), sub(1, ratio)), null, null];
  },
};
