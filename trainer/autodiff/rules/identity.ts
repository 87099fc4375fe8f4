import { unaryRule } from '../rule.ts';

export const identityGrad = unaryRule('Identity', (dy) => dy);
