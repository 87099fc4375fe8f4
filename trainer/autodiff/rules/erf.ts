import { exp, mul, neg } from '../../graph/ops.ts';
import { unaryRule } from '../rule.ts';

/** d erf(x) = 2/√π · exp(-x²). */
export const erfGrad = unaryRule('Erf', (dy, x) => mul(dy, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI))));
