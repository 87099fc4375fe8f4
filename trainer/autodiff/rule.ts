import type { Node, Tensor } from '../graph/graph.ts';

/** Builds the gradient of one input, only when somebody needs it. */
export type GradThunk = () => Tensor;

/**
 * The backward rule of one op. `dys[i]` is the gradient flowing into output i (null when none does).
 * It returns one thunk per input (null for inputs that never take a gradient, like indices):
 * the walker calls a thunk only for inputs on a path from a trainable parameter, so the gradient of
 * a frozen weight is never built.
 */
export interface GradientRule {
  readonly op: string;
  grad(dys: readonly (Tensor | null)[], node: Node): readonly (GradThunk | null)[];
}

/**
 * A rule declared once under its op's name. `grad` gets the gradient of the first output (every rule
 * differentiates that one only; extra outputs such as Dropout's mask are saved state) and the node.
 */
export function defineRule(op: string, grad: (dy: Tensor, node: Node) => readonly (GradThunk | null)[]): GradientRule {
  return {
    op,
    grad: (dys, node) => {
      const dy = dys[0];
      if (!dy) throw new Error(`autodiff: ${op} reached without a gradient on its output`);
      return grad(dy, node);
    },
  };
}

export function input(node: Node, i: number): Tensor {
  const x = node.inputs[i];
  if (!x) throw new Error(`autodiff: ${node.op} has no input ${i}`);
  return x;
}

/** A one-input element-wise op: dx = local(dy, x, y), with the saved input x and output y. */
export function unaryRule(op: string, local: (dy: Tensor, x: Tensor, y: Tensor) => Tensor): GradientRule {
  return defineRule(op, (dy, node) => [() => local(dy, input(node, 0), node.outputs[0])]);
}
