import { add, erf, exp, mul } from '../../graph/ops.ts';
import { unaryRule } from '../rule.ts';

/** d gelu(x) = Φ(x) + x·φ(x) = ½(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π), from the saved input only. */
export const geluGrad = unaryRule('Gelu', (dy, x) => {
  const cdf = add(mul(erf(mul(x, Math.SQRT1_2)), 0.5), 0.5);
  const xPdf = mul(mul(x, exp(mul(mul(x, x), -0.5))), 1 / Math.sqrt(2 * Math.PI));
  return mul(dy, add(cdf, xPdf));
});
