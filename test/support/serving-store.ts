/**
 * A directory registry holding the tiny base and adapters with random trained tensors, published as
 * the trainer publishes them; and the trainer's own inference (ModelSessions over buildBertGraph, the
 * `trainer predict` path) on the same texts, for comparing the serving runtime with.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AdapterManifest } from '../../shared/manifest.ts';
import { Registry } from '../../shared/registry/index.ts';
import { parameterSpecs, specFromAdapterConfig } from '../../trainer/model/params.ts';
import { initialParameters } from '../../trainer/model/weights.ts';
import { writeAdapterDir } from '../../trainer/model-files/adapter-dir.ts';
import { type BaseModel, loadBaseModel } from '../../trainer/model-files/base-model.ts';
import type { F32Tensor } from '../../trainer/model-files/safetensors.ts';
import { ModelSessions } from '../../trainer/sessions/model-sessions.ts';
import { loadBertTokenizer } from '../../trainer/tokenizer/bert-tokenizer.ts';
import { collate } from '../../trainer/train/batching.ts';
import { Rng } from '../../trainer/util/random.ts';
import { type RandomAdapterOptions, randomAdapter } from './random-adapter.ts';
import { writeTinyBert } from './tiny-bert.ts';

export type TestAdapter = ReturnType<typeof randomAdapter>;

export interface ServingStore {
  root: string;
  registry: Registry;
  baseDir: string;
  base: BaseModel;
  publish(o: RandomAdapterOptions): Promise<{ adapter: TestAdapter; manifest: AdapterManifest }>;
}

/** models/tiny in a fresh directory store (LayerNorms perturbed, so untrained LayerNorms still matter). */
export async function servingStore(prefix: string): Promise<ServingStore> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const baseDir = join(root, 'tiny');
  writeTinyBert(baseDir, { layerNormNoise: 0.2 });
  const registry = Registry.fromUri(pathToFileURL(join(root, 'store')).href);
  await registry.models.upload('tiny', baseDir, ['config.json', 'model.safetensors', 'vocab.txt']);
  const base = loadBaseModel(baseDir);
  let n = 0;
  return {
    root,
    registry,
    baseDir,
    base,
    publish: (o) => publishRandomAdapter(registry, 'tiny', base, join(root, `adapter-${n++}`), o, 24),
  };
}

/**
 * An adapter with random tensors on `base`, written to `dir` as the trainer writes it and published
 * under the base's store name (maxSeqLen capped at `maxSeqLen`).
 */
export async function publishRandomAdapter(
  registry: Registry,
  baseName: string,
  base: BaseModel,
  dir: string,
  o: RandomAdapterOptions,
  maxSeqLen?: number,
): Promise<{ adapter: TestAdapter; manifest: AdapterManifest }> {
  const adapter = randomAdapter(base, o);
  if (maxSeqLen !== undefined) adapter.config.maxSeqLen = Math.min(adapter.config.maxSeqLen, maxSeqLen);
  const shapes = new Map(parameterSpecs(specFromAdapterConfig(adapter.config)).map((p) => [p.name, p.shape]));
  const tensors = new Map<string, F32Tensor>([...adapter.tensors].map(([k, v]) => [k, { shape: shapes.get(k)!, data: v }]));
  writeAdapterDir(dir, { config: adapter.config, tensors }, { ok: true }, { modelName: baseName });
  const manifest = await registry.adapters.publish(dir, {
    task: o.task,
    jobId: null,
    baseModel: { name: baseName, weightsSha256: base.weightsSha256 },
    mode: adapter.config.mode,
    labels: adapter.config.labels,
    parameters: { trainable: 1, total: 2 },
    metrics: null,
  });
  return { adapter, manifest };
}

export type Text = string | { text: string; text_pair?: string };

/** Logits per text as `trainer predict` computes them: its tokenizer, collate and ModelSessions. */
export async function trainerLogits(store: ServingStore, a: TestAdapter, texts: Text[]): Promise<Float32Array[]> {
  const spec = specFromAdapterConfig(a.config);
  const shapes = new Map(parameterSpecs(spec).map((p) => [p.name, p.shape]));
  const tensors = new Map([...a.tensors].map(([k, v]) => [k, { shape: shapes.get(k)!, data: v }]));
  const values = initialParameters(spec, parameterSpecs(spec), store.base, new Rng(0), { task: a.config.task, tensors });
  const sessions = await ModelSessions.create(spec, values, { device: 'cpu', dropout: 0, seed: 0, threads: 1 }, false);
  const tok = await loadBertTokenizer(store.baseDir, { maxSeqLen: a.config.maxSeqLen });
  const rows = texts.map((t) => {
    const e = typeof t === 'string' ? tok.encode(t) : tok.encode(t.text, t.text_pair);
    return { inputIds: Int32Array.from(e.inputIds), tokenTypeIds: Int32Array.from(e.tokenTypeIds), label: null, line: 0 };
  });
  const L = a.config.labels.length;
  const logits = await sessions.logits(collate(rows));
  await sessions.release();
  return texts.map((_, i) => logits.slice(i * L, (i + 1) * L));
}
