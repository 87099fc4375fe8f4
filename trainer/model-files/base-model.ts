/**
 * Loads a Hugging Face BERT directory (config.json + model.safetensors) into float32 weights under
 * canonical names. Accepts both HF spellings (BertModel saves `embeddings...`, BertFor* saves
 * `bert.embeddings...`) and the legacy TF-converted `LayerNorm.gamma/beta`; ignores heads we don't
 * use (MLM `cls.*`, `position_ids` buffers). Linear weights keep PyTorch's [out, in] layout.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BertConfig } from '../../shared/bert-config.ts';
import { familyOf } from '../model/families/registry.ts';
import { readBertConfig } from './bert-config.ts';
import { ModelFileError } from './errors.ts';
import type { RawTensor } from './safetensors.ts';
import { readSafetensors, toFloat32 } from './safetensors.ts';

export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

export interface BaseModel {
  dir: string;
  config: BertConfig;
  /**
   * Canonical names WITHOUT the `bert.` prefix: 'embeddings.word_embeddings.weight',
   * 'encoder.layer.0.attention.self.query.weight', 'pooler.dense.weight', ...; a classifier present
   * in the checkpoint stays 'classifier.weight'/'classifier.bias'. Order: embeddings, layers, pooler,
   * classifier. F32 data are views into the file buffer: treat them as read-only.
   */
  weights: Map<string, WeightTensor>;
  /** sha256 (hex) of the model.safetensors bytes. */
  weightsSha256: string;
  hasPooler: boolean;
}

/** Canonical name -> shape of every tensor the config's encoder needs (its family's names map), in a fixed order; the pooler is not included. */
export function expectedBertWeights(config: BertConfig): Map<string, number[]> {
  return familyOf(config).baseWeights(config);
}

/** Checkpoint name -> canonical name: drop the family's model prefix (`bert.`), LayerNorm gamma/beta -> weight/bias. */
export function canonicalWeightName(name: string, prefix = 'bert'): string {
  let n = name.startsWith(`${prefix}.`) ? name.slice(prefix.length + 1) : name;
  if (n.endsWith('.LayerNorm.gamma')) n = `${n.slice(0, -'gamma'.length)}weight`;
  else if (n.endsWith('.LayerNorm.beta')) n = `${n.slice(0, -'beta'.length)}bias`;
  return n;
}

export function loadBaseModel(dir: string): BaseModel {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelFileError(`${dir}: base model directory not found`);
  }
  const config = readBertConfig(dir);
  const family = familyOf(config);
  const path = join(dir, 'model.safetensors');
  if (!existsSync(path)) {
    const hint = existsSync(join(dir, 'pytorch_model.bin'))
      ? ' (only pytorch_model.bin is there: convert it to safetensors first)'
      : ' (a base model directory needs config.json and model.safetensors)';
    throw new ModelFileError(`${path}: file not found${hint}`);
  }
  const file = readSafetensors(path);
  const fail = (msg: string): never => {
    throw new ModelFileError(`${path}: ${msg}`);
  };

  // Index the tensors we know by canonical name; two spellings of one tensor is ambiguous.
  const h = config.hidden_size;
  const expected = expectedBertWeights(config);
  const optional = new Set(['pooler.dense.weight', 'pooler.dense.bias', 'classifier.weight', 'classifier.bias']);
  const found = new Map<string, { original: string; raw: RawTensor }>();
  for (const [original, raw] of file.tensors) {
    const name = canonicalWeightName(original, family.prefix);
    if (!expected.has(name) && !optional.has(name)) continue;
    const prev = found.get(name);
    if (prev) fail(`tensors "${prev.original}" and "${original}" are both "${name}"`);
    found.set(name, { original, raw });
  }

  const missing = [...expected.keys()].filter((n) => !found.has(n));
  if (missing.length > 0) {
    const more = missing.length > 1 ? ` and ${missing.length - 1} more required tensor(s)` : '';
    fail(`missing tensor "${missing[0]}" (expected shape ${fmt(expected.get(missing[0]) ?? [])})${more}`);
  }
  // A pooler the family's head does not read (RobertaModel saves one) is left unloaded.
  const hasPooler = family.head.usesPooler(bothOrNeither('pooler.dense', found, fail));
  if (hasPooler) {
    expected.set('pooler.dense.weight', [h, h]);
    expected.set('pooler.dense.bias', [h]);
  }
  if (bothOrNeither('classifier', found, fail)) {
    const w = found.get('classifier.weight')!.raw.shape;
    const labels = w[0] ?? 0;
    const count = config.id2label ? Object.keys(config.id2label).length : undefined;
    if (count !== undefined && count !== labels) {
      fail(`tensor "classifier.weight" has ${labels} rows but config.json id2label names ${count} labels`);
    }
    expected.set('classifier.weight', [labels, h]);
    expected.set('classifier.bias', [labels]);
  }

  const weights = new Map<string, WeightTensor>();
  for (const [name, shape] of expected) {
    const { original, raw } = found.get(name)!;
    if (!sameShape(raw.shape, shape)) {
      fail(`tensor "${original}" has shape ${fmt(raw.shape)}, expected ${fmt(shape)}`);
    }
    try {
      weights.set(name, { shape: [...shape], data: toFloat32(raw, original) });
    } catch (e) {
      fail((e as Error).message);
    }
  }
  const weightsSha256 = createHash('sha256').update(file.buffer).digest('hex');
  return { dir, config, weights, weightsSha256, hasPooler };
}

function bothOrNeither(prefix: string, found: Map<string, unknown>, fail: (msg: string) => never): boolean {
  const w = found.has(`${prefix}.weight`);
  const b = found.has(`${prefix}.bias`);
  if (w !== b) fail(`"${prefix}.${w ? 'weight' : 'bias'}" is present without "${prefix}.${w ? 'bias' : 'weight'}"`);
  return w;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function fmt(shape: number[]): string {
  return `[${shape.join(', ')}]`;
}
