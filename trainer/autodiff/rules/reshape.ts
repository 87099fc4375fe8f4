import type { Node, Tensor } from '../../graph/graph.ts';
import { reshapeTo, shapeOf } from '../../graph/ops.ts';
import { defineRule, type GradThunk, input } from '../rule.ts';

/** Ops that only relabel the shape: the gradient takes the input's runtime shape back; the shape operand takes none. */
function backToInputShape(dy: Tensor, node: Node): (GradThunk | null)[] {
  const x = input(node, 0);
  return [() => reshapeTo(dy, shapeOf(x), x.shape), null];
}

export const reshapeGrad = defineRule('Reshape', backToInputShape);
export const unsqueezeGrad = defineRule('Unsqueeze', backToInputShape);
