import { div, mul, neg } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

/** y = a / b: da = dy / b, db = -dy * y / b. */
export const divGrad = defineRule('Div', (dy, node) => {
  const [a, b] = [input(node, 0), input(node, 1)];
  const y = node.outputs[0];
  return [() => unbroadcast(div(dy, b), a.shape), () => unbroadcast(neg(div(mul(dy, y), b)), b.shape)];
});
