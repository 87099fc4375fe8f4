/**
 * Writes a random ELECTRA discriminator in Hugging Face layout (config.json with model_type "electra",
 * model.safetensors under `electra.` names): a stand-in base for tests, deterministic given the seed. With
 * embeddingSize != hiddenSize the file holds embeddings_project, as electra-small's does. No tokenizer files:
 * ELECTRA ships BERT's WordPiece, tests feed token ids.
 */
import { electraFamily } from '../model/families/electra.ts';
import { type RandomWeightOptions, writeRandomFamilyBase } from './random-family-base.ts';

/** The shape to write (seed, prefix and the draw's spreads: RandomWeightOptions). */
export interface RandomElectraOptions extends RandomWeightOptions {
  hiddenSize: number;
  /** The embeddings' width; default hiddenSize (no embeddings_project). */
  embeddingSize?: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
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
