/**
 * RoBERTa (`model_type` "roberta"): BERT's post-LayerNorm layers under `roberta.`, positions counted from
 * padding_idx + 1 over non-pad tokens (pads keep padding_idx: HF's create_position_ids_from_input_ids),
 * and RobertaClassificationHead: dense + tanh + out_proj on <s>, no pooler.
 */
import type { Tensor } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import type { ModelFamily, PositionContext } from './family.ts';
import { postLayerNormLayoutOf, postLayerNormWeights } from './post-ln-layout.ts';
import { denseOutProjHead } from './shared-parts.ts';

/**
 * int64 [B, S]: padding_idx + cumsum(not pad) for real tokens, padding_idx for pads. The cumulative sum is a
 * MatMul with an upper-triangular ones matrix (exact in float for any length below 2^24).
 */
export function paddingOffsetPositions({ inputIds, seqLen, config }: PositionContext): Tensor {
  const g = inputIds.graph;
  const pad = config.pad_token_id ?? 1;
  const notPad = op.sub(1, op.cast(op.equal(inputIds, g.scalar(pad, 'int64')), g.floatType));
  const idx = op.range(seqLen, 'S');
  // upper[i, j] = 1 when i <= j, so (notPad @ upper)[b, j] = Σ_{i<=j} notPad[b, i].
  const upper = op.sub(1, op.cast(op.greater(op.reshape(idx, ['S', 1]), op.reshape(idx, [1, 'S'])), g.floatType));
  const counted = op.mul(op.matmul(notPad, upper), notPad);
  return op.add(op.cast(counted, 'int64'), g.scalar(pad, 'int64'));
}

export const robertaFamily: ModelFamily = {
  modelType: 'roberta',
  prefix: 'roberta',
  parseExtras: (raw, config, bad) => {
    const pad = raw.pad_token_id ?? 1;
    if (typeof pad !== 'number' || !Number.isSafeInteger(pad) || pad < 0 || pad >= config.vocab_size) {
      bad('pad_token_id', `an integer token id in [0, ${config.vocab_size}) (RoBERTa's positions count from it)`);
    }
    config.pad_token_id = pad as number;
    // The largest position id is pad + max length; a table that small could not embed one token.
    if (config.max_position_embeddings <= config.pad_token_id + 1) {
      bad(
        'max_position_embeddings',
        `greater than pad_token_id + 1 (${config.pad_token_id + 1}): RoBERTa's positions start after the pad id`,
      );
    }
  },
  baseWeights: postLayerNormWeights,
  layout: postLayerNormLayoutOf,
  positionIds: paddingOffsetPositions,
  maxSequenceLength: (c) => c.max_position_embeddings - (c.pad_token_id ?? 1) - 1,
  head: denseOutProjHead((x) => op.tanh(x)),
  // add_classification_head(layers=2, activation_function='tanh'): dropout, dense (1), tanh, dropout, out_proj (4).
  adapterHub: {
    modelClass: 'RobertaAdapterModel',
    head: { layers: 2, activation: 'tanh', modules: { 'classifier.dense': 1, 'classifier.out_proj': 4 } },
  },
  paths: new Set(['train', 'eval', 'predict', 'serving', 'export onnx', 'export --format adapterhub']),
};
