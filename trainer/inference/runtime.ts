/**
 * The runtime without an engine: resolves a task's version, loads and verifies its adapter (cache),
 * refuses what cannot run on the base it names, tokenizes with that base's tokenizer (pairs, truncation
 * to the adapter's maxSeqLen), micro-batches rows per serving graph, and turns logits into labelled
 * probabilities. Engines (node.ts; a browser one later) plug in through EngineProvider. No Node APIs.
 */
import type { AdapterConfig } from '../../shared/adapter-config.ts';
import type { AdapterManifest } from '../../shared/manifest.ts';
import { packAdapters, servingVariant, stackPacked } from '../model/serving-graph.ts';
import type { BertTokenizer, Encoding } from '../tokenizer/bert-tokenizer-core.ts';
import { AdapterCache, type LoadedAdapter } from './adapter-cache.ts';
import type { AdapterSource } from './adapter-source.ts';
import type { ServingBase } from './base.ts';
import { type BatchAdapter, MicroBatcher, type PackedFeeds } from './batcher.ts';
import { type EngineProvider, type Variant, variantKey } from './engine.ts';
import { PredictError, type PredictInput, type Predictor, type PredictRequest } from './predictor.ts';

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_BATCH_ROWS = 32;
export const DEFAULT_MAX_WAIT_MS = 2;

export interface RuntimeOptions {
  source: AdapterSource;
  /** The base of that name, loaded once by the runtime (PredictError 'base-missing' when the store has none). */
  loadBase: (name: string) => Promise<ServingBase>;
  engines: EngineProvider;
  /** Bytes of adapters (with their packed feeds) kept in memory (default 256 MiB). */
  cacheBytes?: number;
  /** Rows in one run of the graph at most (default 32). */
  maxBatchRows?: number;
  /** How long the first waiting row waits for others (default 2 ms). */
  maxWaitMs?: number;
}

interface Served extends BatchAdapter {
  adapter: LoadedAdapter;
  /** This adapter alone, packed once (the common single-adapter batch costs no packing). */
  packed: PackedFeeds;
}

/** The runtime's predictor, plus what tests and benchmarks look at. */
export interface RuntimePredictor extends Predictor {
  readonly cache: AdapterCache;
  /** Each graph's batches so far: rows and distinct adapters per run. */
  batches(): { graph: string; rows: number; adapters: number }[];
}

const servedOf = new WeakMap<LoadedAdapter, Served>();

/** Checks the shape of an input (the route validates first; library callers get the same errors). */
function checkInput(input: unknown, i: number): { text: string; pair?: string } {
  if (typeof input === 'string') return { text: input };
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new PredictError(`inputs[${i}] must be a string or {"text", "text_pair"}`, 'invalid', `inputs[${i}]`);
  const o = input as { text?: unknown; text_pair?: unknown };
  if (typeof o.text !== 'string') throw new PredictError(`inputs[${i}].text must be a string`, 'invalid', `inputs[${i}].text`);
  if (o.text_pair !== undefined && typeof o.text_pair !== 'string')
    throw new PredictError(`inputs[${i}].text_pair must be a string`, 'invalid', `inputs[${i}].text_pair`);
  return { text: o.text, pair: o.text_pair as string | undefined };
}

export function softmax(logits: Float32Array): number[] {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  const e = Array.from(logits, (x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

export function createPredictor(o: RuntimeOptions): RuntimePredictor {
  const cache = new AdapterCache(o.source, o.cacheBytes ?? DEFAULT_CACHE_BYTES);
  const bases = new Map<string, Promise<ServingBase>>();
  const tokenizers = new Map<string, BertTokenizer>();
  const batchers = new Map<string, MicroBatcher<Served>>();
  let closed = false;

  const baseNamed = (name: string): Promise<ServingBase> => {
    let p = bases.get(name);
    if (!p) {
      p = o.loadBase(name);
      bases.set(name, p);
      p.catch(() => bases.delete(name)); // a failed load (base missing) is retried by a later request
    }
    return p;
  };

  const tokenizerFor = (base: ServingBase, maxSeqLen: number): BertTokenizer => {
    const key = `${base.name}/${maxSeqLen}`;
    let t = tokenizers.get(key);
    if (!t) {
      t = base.tokenizer.withMaxSeqLen ? base.tokenizer.withMaxSeqLen(maxSeqLen) : base.tokenizer;
      tokenizers.set(key, t);
    }
    return t;
  };

  const batcherFor = (base: ServingBase, variant: Variant): MicroBatcher<Served> => {
    const key = `${base.name}/${variantKey(variant)}`;
    let b = batchers.get(key);
    if (!b) {
      const engine = o.engines.engine(base, variant);
      engine.catch(() => {});
      b = new MicroBatcher<Served>({
        engine: () => engine,
        // Mixed batches stack the adapters' own packed feeds: their raw tensors are not kept.
        pack: (adapters) => (adapters.length === 1 ? adapters[0].packed : stackPacked(adapters.map((a) => a.packed))),
        padId: base.tokenizer.padId,
        maxRows: o.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS,
        maxWaitMs: o.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
      });
      batchers.set(key, b);
    }
    return b;
  };

  /** Refusals decided from the manifest and config alone, before any weight is read. */
  const checkAgainst = (base: ServingBase) => async (manifest: AdapterManifest, config: AdapterConfig) => {
    const what = `adapter "${manifest.task}" version ${manifest.version}`;
    for (const sha of [manifest.baseModel.weightsSha256, config.base?.weightsSha256]) {
      if (sha !== base.weightsSha256)
        throw new PredictError(
          `${what} was trained on base weights with sha256 ${sha}, but the store's base "${base.name}" has ${base.weightsSha256}; retrain it on this base, or serve the base it was trained on`,
          'base-mismatch',
        );
    }
    if (config.mode === 'full' || manifest.mode === 'full')
      throw new PredictError(
        `${what} was trained in full mode (every base weight changed) and cannot share a base; export it baked instead`,
        'unsupported',
      );
    if (config.base.usesPooler && !base.hasPooler)
      throw new PredictError(`${what} uses a pooler the base "${base.name}" lacks`, 'unsupported');
    if (!Array.isArray(config.labels) || config.labels.length < 2)
      throw new PredictError(`${what} has no classifier labels to predict`, 'unsupported');
  };

  const served = (a: LoadedAdapter, base: ServingBase): Served => {
    let s = servedOf.get(a);
    if (!s) {
      const packed = packAdapters(base.layerNorms, base.config, [{ config: a.config, tensors: a.tensors }]);
      s = { key: a.key, numLabels: a.config.labels.length, adapter: a, packed };
      servedOf.set(a, s);
      a.tensors.clear(); // packed now: memory holds each adapter once
    }
    return s;
  };
  const packedBytes = (a: LoadedAdapter, base: ServingBase): number => {
    let n = 0;
    for (const t of Object.values(served(a, base).packed)) n += t.data.byteLength;
    return n;
  };

  return {
    cache,
    batches: () => [...batchers].flatMap(([graph, b]) => b.history.map((h) => ({ graph, ...h }))),

    async predict(req: PredictRequest) {
      if (closed) throw new Error('predictor: closed');
      if (!Array.isArray(req.inputs) || req.inputs.length === 0)
        throw new PredictError('inputs must be a non-empty array', 'invalid', 'inputs');
      const inputs = req.inputs.map((x: PredictInput, i) => checkInput(x, i));
      const manifest = await o.source.manifest(req.task, req.version);
      if (manifest.mode === 'full')
        throw new PredictError(
          `adapter "${manifest.task}" version ${manifest.version} was trained in full mode and cannot share a base; export it baked instead`,
          'unsupported',
        );
      const base = await baseNamed(manifest.baseModel.name);
      const adapter = await cache.get(manifest, checkAgainst(base), (a) => packedBytes(a, base));
      const s = served(adapter, base);
      const tokenizer = tokenizerFor(base, adapter.config.maxSeqLen);
      const encodings: Encoding[] = inputs.map((x) => tokenizer.encode(x.text, x.pair));
      const logits = await batcherFor(base, servingVariant(adapter.config)).submit(s, encodings);
      const labels = adapter.config.labels;
      return {
        task: manifest.task,
        version: manifest.version,
        predictions: logits.map((row) => {
          const p = softmax(row);
          const best = p.indexOf(Math.max(...p));
          return { label: labels[best], probs: Object.fromEntries(labels.map((l, i) => [l, p[i]])) };
        }),
      };
    },

    async close() {
      closed = true;
      const err = new Error('predictor: closed while this prediction waited');
      for (const b of batchers.values()) b.drain(err);
      await o.engines.close();
    },
  };
}
