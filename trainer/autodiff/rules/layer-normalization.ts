import { mul, reduceMean, reduceSum, sub } from '../../graph/ops.ts';
import { defineRule, input } from '../rule.ts';

/**
 * y = x̂ · γ + β over the last axis, x̂ = (x − μ) · r with r = 1/√(σ² + ε), μ and r saved by the forward node.
 *   dx = r · (g − mean(g) − x̂ · mean(g · x̂)),  g = dy · γ
 *   dγ = Σ dy · x̂,  dβ = Σ dy  (sums over every leading axis)
 */
export const layerNormalizationGrad = defineRule('LayerNormalization', (dy, node) => {
  const [x, scale] = [input(node, 0), input(node, 1)];
  const [, mean, invStd] = node.outputs;
  if (!mean || !invStd) throw new Error('autodiff: LayerNormalization needs its Mean and InvStdDev outputs');
  const leading = Array.from({ length: x.rank - 1 }, (_, i) => i);
  let xhat: ReturnType<typeof mul> | null = null;
  const normalized = () => (xhat ??= mul(sub(x, mean), invStd));
  return [
    () => {
      const g = mul(dy, scale);
      const xh = normalized();
      return mul(invStd, sub(sub(g, reduceMean(g, [-1], true)), mul(xh, reduceMean(mul(g, xh), [-1], true))));
    },
    () => reduceSum(mul(dy, normalized()), leading, false),
    node.inputs[2] ? () => reduceSum(dy, leading, false) : null,
  ];
});
