import { gemm } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';
import { unbroadcast } from '../unbroadcast.ts';

/**
 * Y = op(A) op(B) + C. The transposes fold into the flags of the backward Gemms, so a frozen
 * [out, in] weight is read in place for dA and never copied; dB (the weight gradient) is only
 * built when B is trainable.
 */
export const gemmGrad = defineRule('Gemm', (dy, node) => {
  const [a, b] = [input(node, 0), input(node, 1)];
  const c = node.inputs[2] ?? null;
  const transA = node.attrs.transA?.value === 1;
  const transB = node.attrs.transB?.value === 1;
  return [
    () => (transA ? gemm(b, dy, null, { transA: transB, transB: true }) : gemm(dy, b, null, { transB: !transB })),
    () => (transB ? gemm(dy, a, null, { transA: true, transB: transA }) : gemm(a, dy, null, { transA: !transA })),
    c ? () => unbroadcast(dy, c.shape) : null,
  ];
});
