import { neg } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

export const subGrad = defineRule('Sub', (dy, node) => [
  () => unbroadcast(dy, input(node, 0).shape),
  () => unbroadcast(neg(dy), input(node, 1).shape),
]);
