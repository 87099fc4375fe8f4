/**
 * Writes a random RoBERTa in Hugging Face layout (config.json with model_type "roberta", model.safetensors):
 * a stand-in base for tests and parity checks, deterministic given the seed. No tokenizer files: RoBERTa's
 * byte-level BPE is built separately; tests feed token ids. Ids 0, 1, 2 are <s>, <pad>, </s> as in roberta-base.
 */
import { robertaFamily } from '../model/families/roberta.ts';
import { type RandomWeightOptions, writeRandomFamilyBase } from './random-family-base.ts';

/** The shape to write (seed, prefix and the draw's spreads: RandomWeightOptions). */
export interface RandomRobertaOptions extends RandomWeightOptions {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  vocabSize: number;
  /** Longest sequence (positions pad+1 .. pad+maxSeqLen); max_position_embeddings = maxSeqLen + 2. */
  maxSeqLen: number;
  /** Include pooler.dense (RobertaModel saves one; the classification head ignores it); default false. */
  pooler?: boolean;
}

export const ROBERTA_BOS = 0;
export const ROBERTA_PAD = 1;
export const ROBERTA_EOS = 2;

export function writeRandomRoberta(dir: string, opts: RandomRobertaOptions): void {
  const std = opts.initializerRange ?? 0.02;
  const json: Record<string, unknown> = {
    architectures: ['RobertaModel'],
    attention_probs_dropout_prob: 0.1,
    bos_token_id: ROBERTA_BOS,
    classifier_dropout: null,
    eos_token_id: ROBERTA_EOS,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: opts.hiddenSize,
    initializer_range: std,
    intermediate_size: opts.intermediateSize,
    layer_norm_eps: 1e-5,
    max_position_embeddings: opts.maxSeqLen + ROBERTA_PAD + 1,
    model_type: 'roberta',
    num_attention_heads: opts.numHeads,
    num_hidden_layers: opts.numLayers,
    pad_token_id: ROBERTA_PAD,
    position_embedding_type: 'absolute',
    torch_dtype: 'float32',
    type_vocab_size: 1,
    vocab_size: opts.vocabSize,
  };
  // RobertaModel saves a pooler; the classification head ignores it.
  const pooler = new Map<string, number[]>(
    opts.pooler
      ? [
          ['pooler.dense.weight', [opts.hiddenSize, opts.hiddenSize]],
          ['pooler.dense.bias', [opts.hiddenSize]],
        ]
      : [],
  );
  writeRandomFamilyBase(dir, robertaFamily, json, opts, pooler);
}
