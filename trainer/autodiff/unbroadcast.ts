import type { Shape, Tensor } from '../graph/graph.ts';
import { reduceSum, reshape } from '../graph/ops.ts';

/**
 * Sums a gradient over the axes along which an operand of shape `target` was broadcast,
 * so that the result has the operand's shape. Decided on static shapes: a symbol equals only itself.
 */
export function unbroadcast(grad: Tensor, target: Shape): Tensor {
  const lead = grad.rank - target.length;
  let g = grad;
  if (lead > 0)
    g = reduceSum(
      g,
      Array.from({ length: lead }, (_, i) => i),
      false,
    );
  const axes: number[] = [];
  target.forEach((d, i) => {
    if (d === 1 && g.shape[i] !== 1) axes.push(i);
  });
  if (axes.length > 0) g = reduceSum(g, axes, true);
  return g.shape.length === target.length && g.shape.every((d, i) => d === target[i]) ? g : reshape(g, target);
}
