import type { Tensor } from '../../graph/graph.ts';
import { mul, pow } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

function constantScalar(t: Tensor | null): number {
  const c = t?.graph.constantOf(t);
  if (c?.data.length !== 1) throw new Error('autodiff: Pow needs a constant scalar exponent');
  return Number(c.data[0]);
}

/** y = x^c for a constant scalar c: dx = dy · c · x^(c−1). The exponent takes no gradient. */
export const powGrad = defineRule('Pow', (dy, node) => {
  const x = input(node, 0);
  const c = constantScalar(node.inputs[1]);
  return [() => unbroadcast(mul(dy, mul(pow(x, c - 1), c)), x.shape), null];
});
