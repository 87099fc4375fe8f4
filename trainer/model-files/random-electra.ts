/**
 * Writes a random ELECTRA discriminator in Hugging Face layout (config.json with model_type "electra",
 * model.safetensors under `electra.` names): a stand-in base for tests, deterministic given the seed. With
 * embeddingSize != hiddenSize the file holds embeddings_project, as electra-small's does. No tokenizer files:
 * ELECTRA ships BERT's WordPiece, tests feed token ids.
 */
import { electraFamily } from '../model/families/electra.ts';
import { writeRandomFamilyBase } from './random-family-base.ts';

export interface RandomElectraOptions {
  hiddenSize: number;
  /** The embeddings' width; default hiddenSize (no embeddings_project). */
  embeddingSize?: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  seed: number;
  /** Write `electra.`-prefixed names (as ElectraFor* models save); default true. */
  prefix?: boolean;
  /** LayerNorm weight = 1 + noise·N(0,1), bias = noise·N(0,1); default 0. */
  layerNormNoise?: number;
  /** Std of the weights and biases; default 0.02. */
  initializerRange?: number;
}

export function writeRandomElectra(dir: string, opts: RandomElectraOptions): void {
  const std = opts.initializerRange ?? 0.02;
  const json: Record<string, unknown> = {
    architectures: ['ElectraForPreTraining'],
    attention_probs_dropout_prob: 0.1,
    classifier_dropout: null,
    embedding_size: opts.embeddingSize ?? opts.hiddenSize,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: opts.hiddenSize,
    initializer_range: std,
    intermediate_size: opts.intermediateSize,
    layer_norm_eps: 1e-12,
    max_position_embeddings: opts.maxPositions,
    model_type: 'electra',
    num_attention_heads: opts.numHeads,
    num_hidden_layers: opts.numLayers,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    summary_activation: 'gelu',
    summary_last_dropout: 0.1,
    summary_type: 'first',
    summary_use_proj: true,
    torch_dtype: 'float32',
    type_vocab_size: 2,
    vocab_size: opts.vocabSize,
  };
  writeRandomFamilyBase(dir, electraFamily, json, opts);
}
