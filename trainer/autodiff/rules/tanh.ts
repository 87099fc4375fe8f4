import { mul, sub } from '../../graph/ops.ts';
import { unaryRule } from '../rule.ts';

/** d tanh(x) = 1 - tanh(x)². */
export const tanhGrad = unaryRule('Tanh', (dy, _x, y) => mul(dy, sub(1, mul(y, y))));
