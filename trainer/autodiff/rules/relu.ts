import { cast, greater, mul } from '../../graph/ops.ts';
import { unaryRule } from '../rule.ts';

/** d relu(x) = 1 where x > 0, else 0. */
export const reluGrad = unaryRule('Relu', (dy, x) => mul(dy, cast(greater(x, 0), dy.dtype)));
