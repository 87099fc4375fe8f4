/**
 * The runtime without an engine: resolves a task's version, loads and verifies its adapter (cache),
 * refuses what cannot run on the base it names, tokenizes with that base's tokenizer (pairs, truncation
 * to the adapter's maxSeqLen), micro-batches rows per serving graph, and turns logits into labelled
 * probabilities. Engines (node.ts; a browser one later) plug in through EngineProvider. No Node APIs.
 *
 * Work is bounded: at most `maxQueuedRows` rows admitted at once (beyond: PredictError 'busy'), texts cut
 * to the words maxSeqLen can use before tokenizing, tokenizing and packing in slices that yield to the
 * event loop between inputs (and adapter sites), and rows of an aborted request dropped before they run.
 */
import type { AdapterConfig } from '../shared/adapter-config.ts';
import type { AdapterManifest } from '../shared/manifest.ts';
import { packAdaptersInSlices, servingVariant } from '../trainer/model/serving-graph.ts';
import type { Encoding } from '../trainer/tokenizer/bert-tokenizer-core.ts';
import { argmax } from '../trainer/util/argmax.ts';
import { AdapterCache, type LoadedAdapter } from './adapter-cache.ts';
import type { AdapterSource } from './adapter-source.ts';
import type { ServingBase, ServingTokenizer } from './base.ts';
import { type BatchAdapter, type BatcherStats, MicroBatcher } from './batcher.ts';
import { type EngineProvider, type Variant, variantKey } from './engine.ts';
import { PredictError, type PredictInput, type Predictor, type PredictRequest } from './predictor.ts';
import { usableText } from './text-bound.ts';
import type { Tracer } from './trace.ts';

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_BATCH_ROWS = 32;
/** No idle window: a request finding the engine idle runs at once (rows coalesce while it is busy). */
export const DEFAULT_MAX_WAIT_MS = 0;
/** Rows admitted (tokenizing, waiting or running) per predictor at once: 8 maximum-size requests. */
export const DEFAULT_MAX_QUEUED_ROWS = 256;
/** Distinct adapters in one mixed batch. */
export const DEFAULT_MAX_BATCH_ADAPTERS = 8;
/** Stacked, padded per-task feeds of one mixed batch (13 BERT-base adapters of bottleneck 64). */
export const DEFAULT_MAX_BATCH_PADDED_BYTES = 128 * 1024 * 1024;
/** What a 429 tells a client to wait. */
export const BUSY_RETRY_SECONDS = 1;

export interface RuntimeOptions {
  source: AdapterSource;
  /** The base of that name, loaded once by the runtime (PredictError 'base-missing' when the store has none). */
  loadBase: (name: string) => Promise<ServingBase>;
  engines: EngineProvider;
  /** Bytes of adapters (with their packed feeds) kept in memory (default 256 MiB). */
  cacheBytes?: number;
  /** Rows in one run of the graph at most (default 32). */
  maxBatchRows?: number;
  /**
   * How long a row finding the engine idle waits for others (default 0: it runs at once; rows arriving
   * during a run coalesce into the next one whatever this says).
   */
  maxWaitMs?: number;
  /** Rows admitted at once, all requests together; beyond, PredictError 'busy' (default 256). */
  maxQueuedRows?: number;
  /** Distinct adapters in one mixed batch (default 8). */
  maxBatchAdapters?: number;
  /** Bytes of stacked, padded per-task feeds in one mixed batch (default 128 MiB); an adapter alone is never padded. */
  maxBatchPaddedBytes?: number;
  /** Per-request spans (trace.ts: tokenize, queue, hop, session...), for benchmarks; off by default. */
  trace?: Tracer;
}

interface Served extends BatchAdapter {
  adapter: LoadedAdapter;
}

/** The runtime's predictor, plus what tests and benchmarks look at. */
export interface RuntimePredictor extends Predictor {
  readonly cache: AdapterCache;
  /** Each graph's recent runs (at most RECENT_RUNS each): rows, distinct adapters and padded bytes per run. */
  batches(): { graph: string; rows: number; adapters: number; paddedBytes: number }[];
  /** Totals over every graph since the start (counters: constant memory). */
  batchStats(): BatcherStats;
  /** Rows admitted and not finished. */
  readonly queuedRows: number;
}

/**
 * Yields to the event loop (a macrotask: timers and I/O callbacks run) between slices of work: setImmediate
 * on Node; in a page a MessageChannel message, since nested setTimeout(0) is clamped to 4 ms.
 */
const nextTurn: () => Promise<void> = (() => {
  if (typeof setImmediate === 'function') return () => new Promise<void>((resolve) => setImmediate(resolve));
  const channel = new MessageChannel();
  const waiting: (() => void)[] = [];
  channel.port1.addEventListener('message', () => waiting.shift()?.());
  channel.port1.start(); // needed with addEventListener, unlike onmessage
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      channel.port2.postMessage(null);
    });
})();

function cancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new PredictError('the request was abandoned before its rows were computed', 'cancelled');
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
  // An evicted adapter's engine-side feeds go once no admitted request holds it (its rows may still be
  // queued). Checked a turn later: a request whose cache.get returned it in the same microtasks as the
  // eviction holds it by then.
  const holders = new Map<LoadedAdapter, number>();
  const evicted = new WeakSet<LoadedAdapter>();
  const forget = (a: LoadedAdapter) => {
    const s = servedOf.get(a);
    if (s) o.engines.forget?.(s);
  };
  const cache = new AdapterCache(o.source, o.cacheBytes ?? DEFAULT_CACHE_BYTES, (a) => {
    evicted.add(a);
    void nextTurn().then(() => {
      if (!holders.has(a)) forget(a);
    });
  });
  const hold = (a: LoadedAdapter) => holders.set(a, (holders.get(a) ?? 0) + 1);
  const unhold = (a: LoadedAdapter) => {
    const n = (holders.get(a) ?? 1) - 1;
    if (n > 0) holders.set(a, n);
    else {
      holders.delete(a);
      if (evicted.has(a)) forget(a);
    }
  };
  const bases = new Map<string, Promise<ServingBase>>();
  const tokenizers = new Map<string, ServingTokenizer>();
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

  const tokenizerFor = (base: ServingBase, maxSeqLen: number): ServingTokenizer => {
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
        padId: base.tokenizer.padId,
        maxRows: o.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS,
        maxWaitMs: o.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
        maxAdapters: o.maxBatchAdapters ?? DEFAULT_MAX_BATCH_ADAPTERS,
        maxPaddedBytes: o.maxBatchPaddedBytes ?? DEFAULT_MAX_BATCH_PADDED_BYTES,
        trace: o.trace,
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

  /** Packs a loaded adapter once, in slices (the cache's keptBytes hook); memory then holds it once, packed. */
  const packServed = async (a: LoadedAdapter, base: ServingBase): Promise<number> => {
    const packed = await packAdaptersInSlices(base.layerNorms, base.config, [{ config: a.config, tensors: a.tensors }], nextTurn);
    servedOf.set(a, { key: a.key, numLabels: a.config.labels.length, adapter: a, packed });
    a.tensors.clear();
    let n = 0;
    for (const t of Object.values(packed)) n += t.data.byteLength;
    return n;
  };
  const served = (a: LoadedAdapter): Served => {
    const s = servedOf.get(a);
    if (!s) throw new Error(`predictor: adapter ${a.key} was not packed`);
    return s;
  };

  const maxQueuedRows = o.maxQueuedRows ?? DEFAULT_MAX_QUEUED_ROWS;
  let queuedRows = 0;

  return {
    cache,
    batches: () => [...batchers].flatMap(([graph, b]) => b.recent().map((h) => ({ graph, ...h }))),
    batchStats: () => {
      const total: BatcherStats = { runs: 0, rows: 0, mixedRuns: 0, droppedRows: 0, maxPaddedBytes: 0 };
      for (const b of batchers.values()) {
        total.runs += b.stats.runs;
        total.rows += b.stats.rows;
        total.mixedRuns += b.stats.mixedRuns;
        total.droppedRows += b.stats.droppedRows;
        total.maxPaddedBytes = Math.max(total.maxPaddedBytes, b.stats.maxPaddedBytes);
      }
      return total;
    },
    get queuedRows() {
      return queuedRows;
    },

    async predict(req: PredictRequest) {
      if (closed) throw new Error('predictor: closed');
      if (!Array.isArray(req.inputs) || req.inputs.length === 0)
        throw new PredictError('inputs must be a non-empty array', 'invalid', 'inputs');
      const inputs = req.inputs.map((x: PredictInput, i) => checkInput(x, i));
      cancelled(req.signal);
      if (queuedRows + inputs.length > maxQueuedRows)
        throw new PredictError(
          `this server holds ${queuedRows} rows to predict (at most ${maxQueuedRows}); retry in ${BUSY_RETRY_SECONDS} s`,
          'busy',
          undefined,
          BUSY_RETRY_SECONDS,
        );
      queuedRows += inputs.length;
      try {
        return await admitted(req, inputs);
      } finally {
        queuedRows -= inputs.length;
      }
    },

    async close() {
      closed = true;
      const err = new Error('predictor: closed while this prediction waited');
      for (const b of batchers.values()) b.drain(err);
      await o.engines.close();
    },
  };

  /** A request within the row cap: load, tokenize in slices, batch, label. */
  async function admitted(req: PredictRequest, inputs: { text: string; pair?: string }[]) {
    const t0 = o.trace ? performance.now() : 0;
    const manifest = await o.source.manifest(req.task, req.version);
    if (manifest.mode === 'full')
      throw new PredictError(
        `adapter "${manifest.task}" version ${manifest.version} was trained in full mode and cannot share a base; export it baked instead`,
        'unsupported',
      );
    const base = await baseNamed(manifest.baseModel.name);
    const adapter = await cache.get(manifest, checkAgainst(base), (a) => packServed(a, base));
    o.trace?.('resolve', performance.now() - t0);
    hold(adapter);
    try {
      return await tokenizedAndRun(req, inputs, manifest, base, adapter);
    } finally {
      unhold(adapter);
    }
  }

  async function tokenizedAndRun(
    req: PredictRequest,
    inputs: { text: string; pair?: string }[],
    manifest: AdapterManifest,
    base: ServingBase,
    adapter: LoadedAdapter,
  ) {
    const s = served(adapter);
    const trace = o.trace;
    const t0 = trace ? performance.now() : 0;
    const maxSeqLen = adapter.config.maxSeqLen;
    const tokenizer = tokenizerFor(base, maxSeqLen);
    // One input per slice, each cut to the words maxSeqLen can use: the event loop is never held for long.
    const encodings: Encoding[] = [];
    for (const x of inputs) {
      await nextTurn();
      cancelled(req.signal);
      const pair = x.pair === undefined ? undefined : usableText(x.pair, maxSeqLen);
      encodings.push(tokenizer.encode(usableText(x.text, maxSeqLen), pair));
    }
    if (trace) trace('tokenize', performance.now() - t0);
    let logits: Float32Array[];
    try {
      logits = await batcherFor(base, servingVariant(adapter.config)).submit(s, encodings, req.signal);
    } catch (err) {
      cancelled(req.signal);
      throw err;
    }
    const labels = adapter.config.labels;
    const t1 = trace ? performance.now() : 0;
    const predictions = logits.map((row) => {
      const p = softmax(row);
      const best = argmax(p);
      return { label: labels[best], probs: Object.fromEntries(labels.map((l, i) => [l, p[i]])) };
    });
    if (trace) trace('post', performance.now() - t1);
    return { task: manifest.task, version: manifest.version, predictions };
  }
}
