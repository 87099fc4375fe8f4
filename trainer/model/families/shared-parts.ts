/**
 * Parts several families describe alike: absolute positions 0..S-1 (BERT, ELECTRA, DistilBERT), and the
 * first-token head `out_proj(drop(act(dense(drop(x)))))` of RobertaClassificationHead (tanh) and
 * ElectraClassificationHead (GELU), with its four tensors under `classifier.`.
 */
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import type { ClassificationHead, HeadLayers, PositionContext } from './family.ts';

export const absolutePositions = ({ seqLen }: PositionContext): Tensor => op.range(seqLen, 'S');

/** The dense + activation + out_proj head on the first token, no pooler; `activation` is the family's. */
export function denseOutProjHead(activation: (x: Tensor, layers: HeadLayers) => Tensor): ClassificationHead {
  return {
    usesPooler: () => false,
    params: (d, labels) => [
      { name: 'classifier.dense.weight', shape: [d, d], role: 'classifier-weight' },
      { name: 'classifier.dense.bias', shape: [d], role: 'classifier-bias' },
      { name: 'classifier.out_proj.weight', shape: [labels, d], role: 'classifier-weight' },
      { name: 'classifier.out_proj.bias', shape: [labels], role: 'classifier-bias' },
    ],
    build: (first, layers) =>
      layers.linear(layers.drop(activation(layers.linear(layers.drop(first), 'classifier.dense'), layers)), 'classifier.out_proj'),
  };
}
