/**
 * A base model as the runtime serves it: config, the sha256 of its weights file (adapters name it),
 * its tokenizer, and the few base tensors the adapter packing reads (LayerNorms: an adapter that did not
 * train them runs with the base's). The weights themselves go to the engine. No Node APIs here.
 */
import type { BertConfig } from '../shared/bert-config.ts';
import { type ModelFamily, requirePath } from '../trainer/model/families/family.ts';
import { familyOf } from '../trainer/model/families/registry.ts';
import { type F32Tensor, FLOAT_DTYPES, parseSafetensors, toFloat32 } from '../trainer/model-files/safetensors-format.ts';
import type { FamilyTokenizerFiles } from '../trainer/tokenizer/piece-sources.ts';
import { type ServingTokenizer, servingTokenizer } from './base-tokenizer.ts';
import { sha256Hex } from './sha256.ts';

export type { ServingTokenizer } from './base-tokenizer.ts';

export interface ServingBase {
  name: string;
  config: BertConfig;
  weightsSha256: string;
  hasPooler: boolean;
  tokenizer: ServingTokenizer;
  /** `<family prefix>.`-prefixed LayerNorm tensors (copies: the weights' buffer may be handed to a worker). */
  layerNorms: ReadonlyMap<string, Float32Array>;
}

export interface ParsedBase {
  base: ServingBase;
  /** Every weight under its `<family prefix>.`-prefixed name (views into the file's bytes where it is float32). */
  weights: Map<string, F32Tensor>;
}

/** Checkpoint name -> `<prefix>.`-prefixed name (BertModel and BertFor* spellings, legacy gamma/beta). */
function servingName(name: string, family: ModelFamily): string {
  const prefix = `${family.prefix}.`;
  let n = name.startsWith(prefix) ? name.slice(prefix.length) : name;
  if (n.endsWith('.LayerNorm.gamma')) n = `${n.slice(0, -5)}weight`;
  else if (n.endsWith('.LayerNorm.beta')) n = `${n.slice(0, -4)}bias`;
  return `${prefix}${n}`;
}

export class BaseError extends Error {
  override name = 'BaseError';
}

/** Reads a base from its files' bytes and text: config.json, model.safetensors, tokenizer files. */
export async function parseBase(
  name: string,
  files: { config: string; weights: Uint8Array; tokenizer: FamilyTokenizerFiles },
): Promise<ParsedBase> {
  let config: BertConfig;
  try {
    config = JSON.parse(files.config) as BertConfig;
  } catch (e) {
    throw new BaseError(`base "${name}": config.json is not valid JSON (${(e as Error).message})`);
  }
  // The family decides whether its graph can be served yet (trainer/model/families/): refused before any bytes are parsed,
  // and before BERT's field names are looked for (DistilBERT spells them its own way).
  let family: ModelFamily;
  try {
    family = familyOf(config);
    requirePath(family, 'serving');
  } catch (e) {
    throw new BaseError(`base "${name}": config.json: ${(e as Error).message}`);
  }
  for (const k of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size'] as const) {
    if (!Number.isInteger(config[k])) throw new BaseError(`base "${name}": config.json has no integer "${k}"`);
  }
  const weightsSha256 = await sha256Hex(files.weights);
  const weights = new Map<string, F32Tensor>();
  // Skipped before conversion: Hugging Face checkpoints may hold position_ids as I64.
  const file = `base "${name}" model.safetensors`;
  for (const [raw, t] of parseSafetensors(files.weights, file).tensors) {
    // MLM heads (BERT's cls., RoBERTa's lm_head.) and a saved classifier are not the base.
    if (raw.startsWith('cls.') || raw.startsWith('lm_head.') || raw.endsWith('position_ids') || raw.startsWith('classifier.')) continue;
    if (!FLOAT_DTYPES.includes(t.dtype))
      throw new BaseError(`${file}: tensor ${JSON.stringify(raw)} has dtype ${t.dtype}; only ${FLOAT_DTYPES.join(', ')} read as float32`);
    weights.set(servingName(raw, family), { shape: t.shape, data: toFloat32(t, raw) });
  }
  const layerNorms = new Map<string, Float32Array>();
  for (const [n, t] of weights) if (n.includes('LayerNorm')) layerNorms.set(n, Float32Array.from(t.data));
  const tokenizer = servingTokenizer(files.tokenizer, family, family.maxSequenceLength(config));
  const hasPooler = weights.has(`${family.prefix}.pooler.dense.weight`);
  return {
    base: { name, config, weightsSha256, hasPooler, tokenizer, layerNorms },
    weights,
  };
}
