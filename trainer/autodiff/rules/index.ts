/** The registry of gradient rules: op type -> rule. Adding an op = one file + one line here. */
import type { GradientRule } from '../rule.ts';
import { addGrad } from './add.ts';
import { divGrad } from './div.ts';
import { dropoutGrad } from './dropout.ts';
import { erfGrad } from './erf.ts';
import { expGrad } from './exp.ts';
import { gatherGrad } from './gather.ts';
import { geluGrad } from './gelu.ts';
import { gemmGrad } from './gemm.ts';
import { identityGrad } from './identity.ts';
import { layerNormalizationGrad } from './layer-normalization.ts';
import { logSoftmaxGrad } from './log-softmax.ts';
import { matmulGrad } from './matmul.ts';
import { mulGrad } from './mul.ts';
import { negGrad } from './neg.ts';
import { powGrad } from './pow.ts';
import { reduceMeanGrad, reduceSumGrad } from './reduce.ts';
import { reluGrad } from './relu.ts';
import { reshapeGrad, unsqueezeGrad } from './reshape.ts';
import { sigmoidGrad } from './sigmoid.ts';
import { softmaxGrad } from './softmax.ts';
import { sqrtGrad } from './sqrt.ts';
import { subGrad } from './sub.ts';
import { tanhGrad } from './tanh.ts';
import { transposeGrad } from './transpose.ts';
import { whereGrad } from './where.ts';

export const gradientRules: ReadonlyMap<string, GradientRule> = new Map(
  [
    addGrad,
    subGrad,
    mulGrad,
    divGrad,
    powGrad,
    negGrad,
    identityGrad,
    expGrad,
    sqrtGrad,
    tanhGrad,
    sigmoidGrad,
    reluGrad,
    erfGrad,
    geluGrad,
    matmulGrad,
    gemmGrad,
    softmaxGrad,
    logSoftmaxGrad,
    layerNormalizationGrad,
    reshapeGrad,
    unsqueezeGrad,
    transposeGrad,
    gatherGrad,
    reduceSumGrad,
    reduceMeanGrad,
    whereGrad,
    dropoutGrad,
  ].map((r) => [r.op, r]),
);
