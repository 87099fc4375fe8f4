import type { Node, Tensor } from '../../graph/graph.ts';
import { cast, div, expand, shapeOf, size, unsqueeze } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';

function reducedAxes(node: Node): number[] {
  const axesTensor = node.inputs[1];
  const c = axesTensor?.graph.constantOf(axesTensor);
  if (!c) throw new Error(`autodiff: ${node.op} needs constant axes`);
  const rank = input(node, 0).rank;
  return Array.from(c.data as ArrayLike<number | bigint>, (a) => (Number(a) + rank) % rank);
}

/** Every input element of a reduced slice receives that slice's output gradient. */
function spread(dy: Tensor, node: Node): Tensor {
  const x = input(node, 0);
  const kept = node.attrs.keepdims?.value !== 0 ? dy : unsqueeze(dy, reducedAxes(node));
  return expand(kept, shapeOf(x), x.shape);
}

export const reduceSumGrad = defineRule('ReduceSum', (dy, node) => [() => spread(dy, node), null]);

/** Like ReduceSum, divided by the slice length (known only at run time when the axes are symbolic). */
export const reduceMeanGrad = defineRule('ReduceMean', (dy, node) => [
  () => {
    const [x, y] = [input(node, 0), node.outputs[0]];
    const count = div(cast(size(x), x.dtype), cast(size(y), x.dtype));
    return div(spread(dy, node), count);
  },
  null,
]);
