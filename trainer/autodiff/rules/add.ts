import { defineRule, input } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

export const addGrad = defineRule('Add', (dy, node) => [
  () => unbroadcast(dy, input(node, 0).shape),
  () => unbroadcast(dy, input(node, 1).shape),
]);
