import { mul, sub } from '../../graph/ops.ts';
import { unaryRule } from '../rule.ts';

/** d sigmoid(x) = s (1 - s). */
export const sigmoidGrad = unaryRule('Sigmoid', (dy, _x, y) => mul(dy, mul(y, sub(1, y))));
