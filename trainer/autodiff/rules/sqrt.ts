import { mul, reciprocal } from '../../graph/ops.ts';
import { unaryRule } from '../rule.ts';

/** d sqrt(x) = 0.5 / sqrt(x). */
export const sqrtGrad = unaryRule('Sqrt', (dy, _x, y) => mul(mul(dy, reciprocal(y)), 0.5));
