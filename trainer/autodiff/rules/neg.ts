import { neg } from '../../graph/ops.ts';
import { unaryRule } from '../rule.ts';

export const negGrad = unaryRule('Neg', (dy) => neg(dy));
