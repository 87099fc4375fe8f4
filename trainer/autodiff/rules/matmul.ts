import type { Tensor } from '../../graph/graph.ts';
import { matmul, transpose } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

/** Swap the last two axes. */
function mT(x: Tensor): Tensor {
  const perm = Array.from({ length: x.rank }, (_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

/** Y = A B: dA = dY Bᵀ, dB = Aᵀ dY (summed over broadcast batch axes). */
export const matmulGrad = defineRule('MatMul', (dy, node) => {
  const [a, b] = [input(node, 0), input(node, 1)];
  return [() => unbroadcast(matmul(dy, mT(b)), a.shape), () => unbroadcast(matmul(mT(a), dy), b.shape)];
});
