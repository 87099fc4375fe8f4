/**
 * Writes a random DistilBERT in Hugging Face layout (config.json with model_type "distilbert" and its own field
 * names, model.safetensors under `distilbert.` names): a stand-in base for tests, deterministic given the seed.
 * No tokenizer files: DistilBERT ships BERT's WordPiece, tests feed token ids.
 */
import { distilbertFamily } from '../model/families/distilbert.ts';
import { writeRandomFamilyBase } from './random-family-base.ts';

export interface RandomDistilbertOptions {
  dim: number;
  numLayers: number;
  numHeads: number;
  hiddenDim: number;
  vocabSize: number;
  maxPositions: number;
  seed: number;
  /** Write `distilbert.`-prefixed names (as DistilBertFor* models save); default true. */
  prefix?: boolean;
  /** LayerNorm weight = 1 + noise·N(0,1), bias = noise·N(0,1); default 0. */
  layerNormNoise?: number;
  /** Std of the weights and biases; default 0.02. */
  initializerRange?: number;
}

export function writeRandomDistilbert(dir: string, opts: RandomDistilbertOptions): void {
  const std = opts.initializerRange ?? 0.02;
  const json: Record<string, unknown> = {
    activation: 'gelu',
    architectures: ['DistilBertForMaskedLM'],
    attention_dropout: 0.1,
    dim: opts.dim,
    dropout: 0.1,
    hidden_dim: opts.hiddenDim,
    initializer_range: std,
    max_position_embeddings: opts.maxPositions,
    model_type: 'distilbert',
    n_heads: opts.numHeads,
    n_layers: opts.numLayers,
    pad_token_id: 0,
    qa_dropout: 0.1,
    seq_classif_dropout: 0.2,
    sinusoidal_pos_embds: false,
    tie_weights_: true,
    torch_dtype: 'float32',
    vocab_size: opts.vocabSize,
  };
  writeRandomFamilyBase(dir, distilbertFamily, json, opts);
}
