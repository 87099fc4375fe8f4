/**
 * Reverse-mode autodiff over a Graph: walk the nodes in reverse creation order and let each op's rule
 * push the gradient to its inputs. A rule's thunk runs only for inputs that depend on a `wrt` tensor,
 * so nothing is ever built for frozen weights or integer inputs.
 */
import { type Node, shapeToString, type Tensor } from '../graph/graph.ts';
import { add, zerosLike } from '../graph/ops.ts';
import type { GradientRule } from './rule.ts';
import { gradientRules } from './rules/index.ts';

/** Tensors whose value depends on at least one of `wrt`. */
function dependents(nodes: readonly Node[], wrt: readonly Tensor[]): Set<Tensor> {
  const set = new Set<Tensor>(wrt);
  for (const node of nodes) {
    if (node.inputs.some((x) => x !== null && set.has(x))) for (const o of node.outputs) set.add(o);
  }
  return set;
}

/**
 * A gradient must have its input's dtype and static shape; a wrong rule would otherwise be broadcast
 * silently by the sums downstream (tfjs's tape refuses it the same way).
 */
function checkGradient(node: Node, k: number, x: Tensor, dx: Tensor): void {
  const sameShape = dx.rank === x.rank && dx.shape.every((d, i) => d === x.shape[i]);
  if (sameShape && dx.dtype === x.dtype) return;
  throw new Error(
    `autodiff: the ${node.op} rule gives input ${k} ("${x.name}") a gradient of ${dx.dtype} ${shapeToString(dx.shape)}, ` +
      `but that input is ${x.dtype} ${shapeToString(x.shape)}`,
  );
}

function sum(parts: readonly Tensor[]): Tensor {
  return parts.reduce((acc, t) => add(acc, t));
}

/**
 * Gradients of the scalar `loss` with respect to each of `wrt`, as new tensors of the same graph.
 * A `wrt` tensor the loss does not depend on gets zeros.
 */
export function gradients(
  loss: Tensor,
  wrt: readonly Tensor[],
  rules: ReadonlyMap<string, GradientRule> = gradientRules,
): Map<Tensor, Tensor> {
  if (loss.rank !== 0) throw new Error(`autodiff: loss must be a scalar, got shape [${loss.shape.join(', ')}]`);
  const g = loss.graph;
  const forward = g.nodes.slice(); // rules append nodes; walk only the forward ones
  const needed = dependents(forward, wrt);
  const pending = new Map<Tensor, Tensor[]>([[loss, [g.scalar(1, loss.dtype)]]]);

  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i];
    if (!node.outputs.some((o) => pending.has(o) && needed.has(o))) continue;
    const dys = node.outputs.map((o) => {
      const parts = pending.get(o);
      pending.delete(o);
      return parts ? sum(parts) : null;
    });
    const rule = rules.get(node.op);
    if (!rule) throw new Error(`autodiff: no gradient rule for op ${node.op}`);
    const thunks = rule.grad(dys, node);
    node.inputs.forEach((x, k) => {
      if (!x || !needed.has(x)) return;
      const thunk = thunks[k];
      if (!thunk) throw new Error(`autodiff: ${node.op} gives no gradient for input ${k} ("${x.name}")`);
      const dx = thunk();
      checkGradient(node, k, x, dx);
      const list = pending.get(x);
      if (list) list.push(dx);
      else pending.set(x, [dx]);
    });
  }
  return new Map(wrt.map((w) => [w, pending.has(w) ? sum(pending.get(w)!) : zerosLike(w)]));
}
