/**
 * Reads and validates a Hugging Face encoder `config.json`: the BERT-shaped fields, then the family's own
 * (trainer/model/families/, by `model_type`). Anything the trainer's graph would get silently wrong (another
 * activation, relative positions, a decoder, an unbuilt family) is refused here, by name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BertConfig } from '../../shared/bert-config.ts';
import type { ConfigField } from '../model/families/family.ts';
import { findFamily, SUPPORTED_MODEL_TYPES } from '../model/families/registry.ts';
import { ModelFileError } from './errors.ts';

export function readBertConfig(dir: string): BertConfig {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFileError(code === 'ENOENT' ? `${path}: file not found` : `${path}: cannot read (${(e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelFileError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseBertConfig(raw, path);
}

/** Validates parsed config JSON; `path` is only used in messages. */
export function parseBertConfig(raw: unknown, path = 'config.json'): BertConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelFileError(`${path}: must be a JSON object`);
  }
  const c = raw as Record<string, unknown>;
  const bad = (field: string, need: string): never => {
    throw new ModelFileError(`${path}: field "${field}" must be ${need}, got ${show(c[field])}`);
  };
  const posInt = (field: string, dflt?: number): number => {
    const v = c[field] ?? dflt;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) return bad(field, 'a positive integer');
    return v;
  };
  const posNum = (field: string, dflt: number): number => {
    const v = c[field] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return bad(field, 'a positive number');
    return v;
  };

  const family = c.model_type === undefined ? undefined : typeof c.model_type === 'string' ? findFamily(c.model_type) : undefined;
  if (c.model_type !== undefined && !family) bad('model_type', `one of ${SUPPORTED_MODEL_TYPES.map((t) => `"${t}"`).join(', ')}`);
  // The family's own spelling of the BERT-shaped fields (DistilBERT's `dim`, `n_layers`, ...), so errors name them.
  const field = (name: ConfigField): string => family?.configFields?.[name] ?? name;

  const config: BertConfig = {
    vocab_size: posInt(field('vocab_size')),
    hidden_size: posInt(field('hidden_size')),
    num_hidden_layers: posInt(field('num_hidden_layers')),
    num_attention_heads: posInt(field('num_attention_heads')),
    intermediate_size: posInt(field('intermediate_size')),
    hidden_act: 'gelu',
    max_position_embeddings: posInt('max_position_embeddings'),
    type_vocab_size: posInt('type_vocab_size', 2),
    layer_norm_eps: posNum('layer_norm_eps', 1e-12),
    initializer_range: posNum('initializer_range', 0.02),
  };
  if (config.hidden_size % config.num_attention_heads !== 0) {
    throw new ModelFileError(
      `${path}: field "${field('hidden_size')}" (${config.hidden_size}) must be divisible by "${field('num_attention_heads')}" (${config.num_attention_heads})`,
    );
  }
  // HF's "gelu" is the exact erf GELU, which the graph implements; "gelu_new"/"gelu_python"/"relu" differ or are not built.
  if (c[field('hidden_act')] !== 'gelu') bad(field('hidden_act'), '"gelu" (the only activation the trainer implements)');
  if (family) {
    config.model_type = family.modelType;
    family.parseExtras(c, config, bad);
  }
  if (c.position_embedding_type !== undefined && c.position_embedding_type !== 'absolute') {
    bad('position_embedding_type', '"absolute" (relative position embeddings are not implemented)');
  }
  if (c.is_decoder !== undefined && c.is_decoder !== false) bad('is_decoder', 'false (decoder BERTs are not supported)');

  if (c.id2label !== undefined) {
    const m = c.id2label;
    if (typeof m !== 'object' || m === null || Array.isArray(m) || !Object.values(m).every((v) => typeof v === 'string')) {
      bad('id2label', 'an object of label strings');
    }
    config.id2label = { ...(m as Record<string, string>) };
  }
  return config;
}

function show(v: unknown): string {
  return v === undefined ? 'nothing (field absent)' : JSON.stringify(v);
}
