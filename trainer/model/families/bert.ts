/**
 * BERT (`model_type` "bert"): positions 0..S-1, BertForSequenceClassification's head (the pooler's
 * tanh(dense) on [CLS] when the base has one, then `classifier`).
 */
import * as op from '../../graph/ops.ts';
import type { ModelFamily } from './family.ts';
import { postLayerNormLayoutOf, postLayerNormWeights } from './post-ln-layout.ts';
import { absolutePositions } from './shared-parts.ts';

export const bertFamily: ModelFamily = {
  modelType: 'bert',
  prefix: 'bert',
  parseExtras: () => {},
  baseWeights: postLayerNormWeights,
  layout: postLayerNormLayoutOf,
  positionIds: absolutePositions,
  maxSequenceLength: (c) => c.max_position_embeddings,
  head: {
    usesPooler: (baseHasPooler) => baseHasPooler,
    params: (d, labels) => [
      { name: 'classifier.weight', shape: [labels, d], role: 'classifier-weight' },
      { name: 'classifier.bias', shape: [labels], role: 'classifier-bias' },
    ],
    build: (first, { linear, drop }, pooler) => linear(drop(pooler ? op.tanh(linear(first, pooler)) : first), 'classifier'),
  },
  adapterHub: { modelClass: 'BertAdapterModel', head: { layers: 1, activation: null, modules: { classifier: 1 } } },
  paths: new Set(['train', 'eval', 'predict', 'export onnx', 'export --format adapterhub', 'serving', 'pretrain']),
};
