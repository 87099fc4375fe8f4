/**
 * The tiny random BERT and the toy datasets the trainer, job and server tests train on: a few seconds
 * per run on one CPU core, learnable ("pos" rows use tokens 28.., "neg" rows 8..).
 */
import { type RandomBertOptions, writeRandomBert } from '../../trainer/model-files/random-bert.ts';

/** A wider init than BERT's 0.02 gives the frozen random encoder features a small adapter can use. */
export const TINY_BERT: RandomBertOptions = {
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 2,
  intermediateSize: 32,
  maxPositions: 64,
  vocabSize: 200,
  seed: 3,
  initializerRange: 0.2,
};

/** Writes the tiny base (config.json, model.safetensors, vocab.txt) into `dir`; `over` changes what a test needs. */
export function writeTinyBert(dir: string, over: Partial<RandomBertOptions> = {}): void {
  writeRandomBert(dir, { ...TINY_BERT, ...over });
}

/** 40 pre-tokenized rows, two classes. */
export const TOY_JSONL = `${Array.from({ length: 40 }, (_, i) =>
  JSON.stringify({ input_ids: [2, 8 + (i % 2) * 20 + (i % 7), 9 + (i % 2) * 20], label: i % 2 ? 'pos' : 'neg' }),
).join('\n')}\n`;

/** A dataset whose second line is not JSON. */
export const BROKEN_JSONL = '{"input_ids": [2, 5], "label": "pos"}\n{"input_ids": oops\n';
