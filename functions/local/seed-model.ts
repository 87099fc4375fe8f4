/**
 * The local mode's default base model: a small BERT this project pretrained with `trainer pretrain` on
 * unlabelled movie reviews (assets/models/<name>/: weights, vocab, and the model card that says how it was
 * made), put under models/<name>/ of the store once. No weights are downloaded.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from '../../shared/registry/index.ts';

export const SEED_MODEL = 'bert-imdb-4x128-v2';
export const SEED_MODEL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets', 'models', SEED_MODEL);

/** Writes models/<name>/ from the shipped directory unless it exists; returns whether it did. */
export async function seedBaseModel(registry: Registry, name = SEED_MODEL, dir = SEED_MODEL_DIR): Promise<boolean> {
  if (await registry.models.exists(name)) return false;
  const files = ['config.json', 'vocab.txt', 'README.md', 'model.safetensors'].filter((f) => existsSync(join(dir, f)));
  if (!files.includes('model.safetensors')) throw new Error(`${dir}: the shipped base model is missing (model.safetensors)`);
  await registry.models.upload(name, dir, files);
  return true;
}
