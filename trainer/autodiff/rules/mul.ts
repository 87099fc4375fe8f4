import { mul } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

export const mulGrad = defineRule('Mul', (dy, node) => {
  const [a, b] = [input(node, 0), input(node, 1)];
  return [() => unbroadcast(mul(dy, b), a.shape), () => unbroadcast(mul(dy, a), b.shape)];
});
