/**
 * The part every random test base shares (random-roberta.ts, random-electra.ts, random-distilbert.ts): weights
 * drawn for the family's names map, LayerNorms near identity, written in Hugging Face layout with config.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFamily } from '../model/families/family.ts';
import { Rng } from '../util/random.ts';
import { parseBertConfig } from './bert-config.ts';
import { type F32Tensor, writeSafetensors } from './safetensors.ts';

export interface RandomWeightOptions {
  seed: number;
  /** Write the family's prefix on every name (as its `...For*` models save); default true. */
  prefix?: boolean;
  /** LayerNorm weight = 1 + noise·N(0,1), bias = noise·N(0,1); default 0. */
  layerNormNoise?: number;
  /** Std of the other weights and biases; default 0.02. */
  initializerRange?: number;
}

/**
 * Writes `json` as config.json and random weights for the family's base (plus `extra` shapes, e.g. a pooler)
 * as model.safetensors. The config is parsed first: bad sizes are refused before anything is written.
 */
export function writeRandomFamilyBase(
  dir: string,
  family: ModelFamily,
  json: Record<string, unknown>,
  o: RandomWeightOptions,
  extra: ReadonlyMap<string, number[]> = new Map(),
): void {
  const config = parseBertConfig(json, `random ${family.modelType} options`);
  const layout = family.layout(config);
  const std = o.initializerRange ?? 0.02;
  const noise = o.layerNormNoise ?? 0;
  const rng = new Rng(o.seed);
  const weights = new Map<string, F32Tensor>();
  for (const [name, shape] of [...family.baseWeights(config), ...extra]) {
    const data = new Float32Array(shape.reduce((p, d) => p * d, 1));
    const norm = layout.isLayerNorm(name);
    const draw =
      norm && name.endsWith('.weight') ? () => 1 + noise * rng.normal() : norm ? () => noise * rng.normal() : () => std * rng.normal();
    for (let i = 0; i < data.length; i++) data[i] = draw();
    weights.set(o.prefix === false ? name : `${family.prefix}.${name}`, { shape, data });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
}
