/**
 * The parameters of Hugging Face's BertForMaskedLM under their saved names: the encoder (`bert.*`),
 * the MLM head (`cls.predictions.transform.*`, `cls.predictions.bias`; the decoder weight is tied to
 * the word embeddings and not a parameter of its own), and the pooler, which masked-LM training never
 * reads but the saved base carries so that sequence classifiers load it. Values start fresh (BERT's
 * init) or from an existing base (--init).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BertConfig } from '../../shared/bert-config.ts';
import { requirePath } from '../model/families/family.ts';
import { familyOf } from '../model/families/registry.ts';
import { expectedBertWeights, loadBaseModel } from '../model-files/base-model.ts';
import { ModelFileError } from '../model-files/errors.ts';
import { readSafetensors, toFloat32 } from '../model-files/safetensors.ts';
import type { Rng } from '../util/random.ts';

export interface MlmParam {
  name: string;
  shape: number[];
  /** false: carried along and saved, not in the MLM graph (the pooler). */
  trained: boolean;
}

export const WORD_EMBEDDINGS = 'bert.embeddings.word_embeddings.weight';
export const HEAD_PREFIX = 'cls.predictions';

/** Every tensor of the saved model, in a stable order: encoder, pooler, MLM head. */
export function mlmParams(c: BertConfig): MlmParam[] {
  const d = c.hidden_size;
  const out: MlmParam[] = [...expectedBertWeights(c)].map(([name, shape]) => ({ name: `bert.${name}`, shape, trained: true }));
  out.push(
    { name: 'bert.pooler.dense.weight', shape: [d, d], trained: false },
    { name: 'bert.pooler.dense.bias', shape: [d], trained: false },
  );
  out.push(
    { name: `${HEAD_PREFIX}.transform.dense.weight`, shape: [d, d], trained: true },
    { name: `${HEAD_PREFIX}.transform.dense.bias`, shape: [d], trained: true },
    { name: `${HEAD_PREFIX}.transform.LayerNorm.weight`, shape: [d], trained: true },
    { name: `${HEAD_PREFIX}.transform.LayerNorm.bias`, shape: [d], trained: true },
    { name: `${HEAD_PREFIX}.bias`, shape: [c.vocab_size], trained: true },
  );
  return out;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * BERT's init (HF `_init_weights`): weights and embeddings N(0, initializer_range²), biases 0,
 * LayerNorm 1 and 0, the [PAD] row of the word embeddings 0. One Rng stream in parameter order.
 */
export function freshValues(c: BertConfig, rng: Rng, padId: number): Map<string, Float32Array> {
  const std = c.initializer_range ?? 0.02;
  const values = new Map<string, Float32Array>();
  for (const p of mlmParams(c)) {
    const data = new Float32Array(size(p.shape));
    if (p.name.endsWith('LayerNorm.weight')) data.fill(1);
    else if (p.name.endsWith('.weight')) for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
    values.set(p.name, data);
  }
  values.get(WORD_EMBEDDINGS)!.fill(0, padId * c.hidden_size, (padId + 1) * c.hidden_size);
  return values;
}

/**
 * The values of an existing base directory: its encoder (and pooler, when it has one) through the
 * trainer's base loader, its MLM head when it carries one (a BertForMaskedLM checkpoint, ours or
 * Hugging Face's); what it lacks starts fresh.
 */
export function valuesFromBase(
  dir: string,
  rng: Rng,
  padId: number,
): { config: BertConfig; values: Map<string, Float32Array>; fresh: string[] } {
  const base = loadBaseModel(dir);
  requirePath(familyOf(base.config), 'pretrain');
  const c = base.config;
  const values = freshValues(c, rng, padId);
  const fresh = new Set(values.keys());
  for (const [name, w] of base.weights) {
    const key = `bert.${name}`;
    if (!values.has(key)) continue; // a classifier head is not part of a masked LM
    values.get(key)!.set(w.data);
    fresh.delete(key);
  }
  const file = readSafetensors(join(dir, 'model.safetensors'));
  for (const p of mlmParams(c).filter((q) => q.name.startsWith(`${HEAD_PREFIX}.`))) {
    // Hugging Face saves the head as cls.predictions.*; the decoder bias is a tie of cls.predictions.bias.
    const raw =
      file.tensors.get(p.name) ?? (p.name === `${HEAD_PREFIX}.bias` ? file.tensors.get(`${HEAD_PREFIX}.decoder.bias`) : undefined);
    if (!raw) continue;
    if (raw.shape.length !== p.shape.length || raw.shape.some((d, i) => d !== p.shape[i])) {
      throw new ModelFileError(`${join(dir, 'model.safetensors')}: tensor "${p.name}" has shape [${raw.shape}], expected [${p.shape}]`);
    }
    values.get(p.name)!.set(toFloat32(raw, p.name));
    fresh.delete(p.name);
  }
  return { config: c, values, fresh: [...fresh] };
}

export function hasBaseModel(dir: string): boolean {
  return existsSync(join(dir, 'model.safetensors'));
}
