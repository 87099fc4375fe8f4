import { mul } from '../../graph/ops.ts';
import { unaryRule } from '../rule.ts';

/** d exp(x) = exp(x), the saved output. */
export const expGrad = unaryRule('Exp', (dy, _x, y) => mul(dy, y));
