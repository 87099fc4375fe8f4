/**
 * An adapter directory: `adapter.safetensors` (exactly the trained parameters, F32, PyTorch names),
 * `adapter_config.json` (what network they belong to) and `metrics.json` (how training went); in adapter
 * mode also the Python `adapters` library's files (adapterhub.ts) and a model card, so that library loads it.
 * Written to a sibling temp directory and renamed into place, so a crash never leaves half an adapter.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { AdapterConfig } from '../../shared/adapter-config.ts';
import { familyOf } from '../model/families/registry.ts';
import {
  adapterHubFields,
  type ImportBase,
  isAdapterHubLayout,
  isAdapterHubOnly,
  readAdapterHubDir,
  readAdapterHubParts,
  splitTensors,
  writeAdapterHubFiles,
} from './adapterhub.ts';
import { ModelFileError } from './errors.ts';
import { modelCard } from './model-card.ts';
import { type F32Tensor, readSafetensors, toFloat32, writeSafetensors } from './safetensors.ts';

export const ADAPTER_WEIGHTS = 'adapter.safetensors';
export const ADAPTER_CONFIG = 'adapter_config.json';
export const METRICS = 'metrics.json';

export interface AdapterDir {
  config: AdapterConfig;
  tensors: Map<string, F32Tensor>;
}

/** Fails early (before any training) when `dir` already holds something we would overwrite. */
export function assertWritableOutput(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new ModelFileError(`--out ${dir}: directory is not empty; choose a new directory (adapters are never overwritten)`);
  }
  mkdirSync(dirname(dir), { recursive: true });
}

/**
 * `modelName`: the base's name for Python users (`from_pretrained(...)`); default the base directory's name.
 * `adapterHubLayout` (`trainer export --format adapterhub`): adapter.safetensors is the library's, the
 * adapter tensors alone, equal to pytorch_adapter.bin; the head and the LayerNorms are in their own files.
 * Without it (a trained adapter, a published version) adapter.safetensors holds every trained tensor.
 */
export function writeAdapterDir(
  dir: string,
  adapter: AdapterDir,
  metrics: unknown,
  opts: { modelName?: string; adapterHubLayout?: boolean } = {},
): void {
  assertWritableOutput(dir);
  const staging = join(dirname(dir), `.${basename(dir)}.partial-${randomBytes(4).toString('hex')}`);
  mkdirSync(staging);
  try {
    const hub = adapterHubFields(adapter.config, opts.modelName);
    if (opts.adapterHubLayout && !hub)
      throw new ModelFileError(`AdapterHub export needs an adapter-mode adapter; this one was trained in "${adapter.config.mode}" mode`);
    if (!opts.adapterHubLayout) writeSafetensors(join(staging, ADAPTER_WEIGHTS), adapter.tensors, { format: 'pt' });
    writeFileSync(join(staging, ADAPTER_CONFIG), `${JSON.stringify({ ...adapter.config, ...hub }, null, 2)}\n`);
    writeFileSync(join(staging, METRICS), `${JSON.stringify(metrics, null, 2)}\n`);
    if (hub) {
      const hasLayernorms = splitTensors(adapter.config, adapter.tensors).layernorms.size > 0;
      writeAdapterHubFiles(
        staging,
        adapter.config,
        adapter.tensors,
        modelCard(adapter.config, metrics, { modelName: opts.modelName, hasLayernorms }),
        { modelName: opts.modelName, adapterSafetensors: opts.adapterHubLayout },
      );
    }
    if (existsSync(dir)) rmSync(dir, { recursive: true }); // empty, checked above
    renameSync(staging, dir);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Reads our adapter directory (also as `export --format adapterhub` writes it: adapter.safetensors the
 * adapter tensors alone, the classifier and LayerNorms from their files), or (given the base it will run
 * on) an AdapterHub one: their adapter_config.json + pytorch_adapter.bin or adapter.safetensors, head files optional.
 */
export function readAdapterDir(dir: string, base?: ImportBase): AdapterDir {
  const configPath = join(dir, ADAPTER_CONFIG);
  if (!existsSync(configPath)) throw new ModelFileError(`${dir}: not an adapter directory (no ${ADAPTER_CONFIG})`);
  let config: AdapterConfig;
  try {
    config = JSON.parse(readFileSync(configPath, 'utf8')) as AdapterConfig;
  } catch (err) {
    throw new ModelFileError(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof config === 'object' && config !== null && isAdapterHubOnly(config as unknown as Record<string, unknown>)) {
    if (!base) throw new ModelFileError(`${dir}: an AdapterHub adapter; reading it needs the base model it runs on`);
    return readAdapterHubDir(dir, base);
  }
  if (config.format !== 'adapter-store.adapter/v1') {
    throw new ModelFileError(`${configPath}: field "format" must be "adapter-store.adapter/v1", got ${JSON.stringify(config.format)}`);
  }
  for (const field of ['task', 'mode', 'labels', 'base', 'maxSeqLen'] as const) {
    if (config[field] === undefined) throw new ModelFileError(`${configPath}: missing field "${field}"`);
  }
  if (!Array.isArray(config.labels) || config.labels.length < 2) {
    throw new ModelFileError(`${configPath}: field "labels" must list at least two label names`);
  }
  const file = readSafetensors(join(dir, ADAPTER_WEIGHTS));
  const tensors = new Map<string, F32Tensor>();
  for (const [name, raw] of file.tensors) tensors.set(name, { shape: raw.shape, data: toFloat32(raw, name) });
  if (isAdapterHubLayout(dir, config, tensors)) for (const [name, t] of readAdapterHubParts(dir, config)) tensors.set(name, t);
  else if (config.mode === 'adapter') {
    const head = familyOf(config.base.config).head.params(config.base.config.hidden_size, config.labels.length);
    const missing = head.find((p) => !tensors.has(p.name));
    if (missing)
      throw new ModelFileError(
        `${join(dir, ADAPTER_WEIGHTS)}: holds no classifier, and no head_config.json is beside it (missing ${missing.name})`,
      );
  }
  return { config, tensors };
}
