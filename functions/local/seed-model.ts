/**
 * The embedded mode's base model: a small randomly initialised BERT (no pretrained weights ship or
 * download) with the real bert-base-uncased vocabulary from assets/, put under models/<name>/ once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from '../../shared/registry.ts';
import { writeRandomBert } from '../../trainer/model-files/random-bert.ts';

export const SEED_MODEL = 'bert-tiny-random';
export const SEED_VOCAB = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets', 'bert-base-uncased', 'vocab.txt');

/** Writes models/<name>/ unless it exists; returns whether it did. */
export async function seedBaseModel(registry: Registry, name = SEED_MODEL): Promise<boolean> {
  if (await registry.modelExists(name)) return false;
  const dir = mkdtempSync(join(tmpdir(), 'seed-model-'));
  try {
    // 2 layers of width 128 train a demo job in seconds on a laptop CPU; a wider init than BERT's 0.02
    // gives a random encoder more varied features to adapt (measured on SST-2, README).
    writeRandomBert(dir, {
      hiddenSize: 128,
      numLayers: 2,
      numHeads: 2,
      intermediateSize: 512,
      maxPositions: 512,
      typeVocabSize: 2,
      vocabFile: SEED_VOCAB,
      seed: 0,
      pooler: true,
      initializerRange: 0.08,
    });
    await registry.uploadModel(name, dir, ['config.json', 'model.safetensors', 'vocab.txt']);
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
