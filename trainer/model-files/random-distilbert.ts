/**
 * Writes a random DistilBERT in Hugging Face layout (config.json with model_type "distilbert" and its own field
 * names, model.safetensors under `distilbert.` names): a stand-in base for tests, deterministic given the seed.
 * No tokenizer files: DistilBERT ships BERT's WordPiece, tests feed token ids.
 */
import { distilbertFamily } from '../model/families/distilbert.ts';
import { type RandomWeightOptions, writeRandomFamilyBase } from './random-family-base.ts';

/** The shape to write (seed, prefix and the draw's spreads: RandomWeightOptions). */
export interface RandomDistilbertOptions extends RandomWeightOptions {
  dim: number;
  numLayers: number;
  numHeads: number;
  hiddenDim: number;
  vocabSize: number;
  maxPositions: number;
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
