/**
 * The isomorphic runtime (runtime.ts) over the tiny base and random adapters held in memory, with an
 * engine that runs no graph: it records every run (rows, adapters, stacked bytes) and answers zero
 * logits, so the runtime's bounds (rows admitted, batch budgets, abandoned rows, tokenizing) are tested
 * in milliseconds. Real logits are node.test.ts's business.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBase, type ServingBase } from '../../serving/base.ts';
import type { Engine, EngineAdapter, EngineProvider, FeedTensor } from '../../serving/engine.ts';
import { PredictError } from '../../serving/predictor.ts';
import { createPredictor, type RuntimeOptions, type RuntimePredictor } from '../../serving/runtime.ts';
import type { AdapterManifest } from '../../shared/manifest.ts';
import { parameterSpecs, specFromAdapterConfig } from '../../trainer/model/params.ts';
import { stackedBytes } from '../../trainer/model/serving-graph.ts';
import { writeAdapterDir } from '../../trainer/model-files/adapter-dir.ts';
import { type BaseModel, loadBaseModel } from '../../trainer/model-files/base-model.ts';
import type { F32Tensor } from '../../trainer/model-files/safetensors.ts';
import { type RandomAdapterOptions, randomAdapter } from './random-adapter.ts';
import { writeTinyBert } from './tiny-bert.ts';

export interface EngineRun {
  rows: number;
  adapters: number;
  /** Bytes the engine stacks for this run (0: one adapter on its own feeds). */
  stackedBytes: number;
  /** The longest row, in tokens. */
  seqLen: number;
}

export interface FakeServing {
  predictor: RuntimePredictor;
  /** Every engine run so far. */
  runs: EngineRun[];
  /** Holds every run until `release()` (to fill the queue behind it). */
  hold(): void;
  release(): void;
  close(): void;
}

export interface FakeStore {
  base: BaseModel;
  baseDir: string;
  /** Adds an adapter (random tensors) under `task`, version "v1". */
  add(o: RandomAdapterOptions): void;
  root: string;
}

const VERSION = '20260101T000000000Z-0000000000000001';
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export function fakeStore(
  prefix: string,
): FakeStore & { files: Map<string, Map<string, Uint8Array>>; manifests: Map<string, AdapterManifest> } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const baseDir = join(root, 'tiny');
  writeTinyBert(baseDir);
  const base = loadBaseModel(baseDir);
  const files = new Map<string, Map<string, Uint8Array>>();
  const manifests = new Map<string, AdapterManifest>();
  let n = 0;
  return {
    root,
    base,
    baseDir,
    files,
    manifests,
    add(o) {
      const adapter = randomAdapter(base, o);
      const shapes = new Map(parameterSpecs(specFromAdapterConfig(adapter.config)).map((p) => [p.name, p.shape]));
      const tensors = new Map<string, F32Tensor>([...adapter.tensors].map(([k, v]) => [k, { shape: shapes.get(k)!, data: v }]));
      const dir = join(root, `adapter-${n++}`);
      writeAdapterDir(dir, { config: adapter.config, tensors }, { ok: true });
      const mine = new Map<string, Uint8Array>();
      for (const f of ['adapter_config.json', 'adapter.safetensors']) mine.set(f, new Uint8Array(readFileSync(join(dir, f))));
      files.set(o.task, mine);
      manifests.set(o.task, {
        format: 'adapter-store.manifest/v1',
        task: o.task,
        version: VERSION,
        createdAt: '2026-01-01T00:00:00Z',
        jobId: null,
        baseModel: { name: 'tiny', weightsSha256: base.weightsSha256 },
        mode: adapter.config.mode,
        labels: adapter.config.labels,
        files: [...mine].map(([name, b]) => ({ name, bytes: b.byteLength, sha256: sha(b) })),
        parameters: { trainable: 1, total: 2 },
        metrics: null,
      });
    },
  };
}

/** Loads the store's tiny base (every name loads it). */
export function tinyBaseLoader(store: FakeStore): (name: string) => Promise<ServingBase> {
  const text = (f: string) => ({ name: f, text: readFileSync(join(store.baseDir, f), 'utf8') });
  return async (name) => {
    const parsed = await parseBase(name, {
      config: readFileSync(join(store.baseDir, 'config.json'), 'utf8'),
      weights: new Uint8Array(readFileSync(join(store.baseDir, 'model.safetensors'))),
      tokenizer: { vocabTxt: text('vocab.txt') },
    });
    return parsed.base;
  };
}

/** A runtime over `store` whose engine records runs; `options` override the runtime's. */
export async function fakeServing(store: ReturnType<typeof fakeStore>, options: Partial<RuntimeOptions> = {}): Promise<FakeServing> {
  const runs: EngineRun[] = [];
  let gate: { promise: Promise<void>; open: () => void } | null = null;
  const engine: Engine = {
    async run(rows: Record<string, FeedTensor>, adapters: readonly EngineAdapter[]) {
      const [B, S] = rows.input_ids.dims;
      const packs = adapters.map((a) => a.packed);
      runs.push({ rows: B, adapters: adapters.length, stackedBytes: adapters.length > 1 ? stackedBytes(packs) : 0, seqLen: S });
      if (gate) await gate.promise;
      let L = 0;
      for (const a of packs) L = Math.max(L, a['task.classifier.bias'].dims[1]);
      return { data: new Float32Array(B * L), dims: [B, L] };
    },
  };
  const engines: EngineProvider = { engine: async () => engine, close: async () => {} };
  const predictor = createPredictor({
    source: {
      async manifest(task) {
        const m = store.manifests.get(task);
        if (!m) throw new PredictError(`no published adapter "${task}"`, 'not-found', 'task');
        return m;
      },
      async file(task, _version, name) {
        return store.files.get(task)!.get(name)!;
      },
    },
    loadBase: tinyBaseLoader(store),
    engines,
    maxWaitMs: 0,
    ...options,
  });
  return {
    predictor,
    runs,
    hold() {
      let open = () => {};
      const promise = new Promise<void>((r) => {
        open = r;
      });
      gate = { promise, open };
    },
    release() {
      gate?.open();
      gate = null;
    },
    close() {
      rmSync(store.root, { recursive: true, force: true });
    },
  };
}
