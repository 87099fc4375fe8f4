/**
 * The runtime in a browser page ("the edge"): the isomorphic runtime (runtime.ts) on onnxruntime-web's
 * WASM backend. The base (config, weights, tokenizer) comes from the store's GET /models/:name/files/:file
 * once and is kept with the Cache API under the weights' sha256 (the one adapters name), so a reload reads
 * it from disk; adapters come from the store's download URLs (urlAdapterSource) and are verified by the
 * runtime. The serving graph is built here (buildServingGraph + toOnnxModel: ~28 kB gzipped of script)
 * with the base weights baked in as initializers: onnxruntime-web copies every input into WASM memory
 * on each run, so feeding the base per run, as the Node engine does zero-copy, would cost a base copy a run.
 */
import * as ort from 'onnxruntime-web/wasm';
import { BASE_MODEL_FILES, type BaseModelFile } from '../shared/registry/layout.ts';
import { toOnnxModel } from '../trainer/graph/onnx-export.ts';
import { buildServingGraph, stackPacked } from '../trainer/model/serving-graph.ts';
import type { F32Tensor } from '../trainer/model-files/safetensors-format.ts';
import type { FamilyTokenizerFiles } from '../trainer/tokenizer/piece-sources.ts';
import { type AdapterSource, urlAdapterSource } from './adapter-source.ts';
import { parseBase, type ServingBase } from './base.ts';
import type { Engine, EngineAdapter, EngineProvider, FeedTensor, Variant } from './engine.ts';
import { variantKey } from './engine.ts';
import { PredictError } from './predictor.ts';
import { createPredictor, type RuntimePredictor } from './runtime.ts';

/** The Cache API as used here (a subset of the DOM's CacheStorage; tests may pass their own). */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
  keys(): Promise<readonly { url: string }[]>;
}
export interface CacheStorageLike {
  open(name: string): Promise<CacheLike>;
}

/** The cache holding bases; bump the suffix if the stored layout ever changes. */
export const BASE_CACHE_NAME = 'adapter-store-bases-v1';
const OPTIONAL: ReadonlySet<BaseModelFile> = new Set(BASE_MODEL_FILES.filter((f) => f !== 'config.json' && f !== 'model.safetensors'));

export interface WebPredictorOptions {
  /** The store's API, e.g. https://api.example.com or the page's own origin on `npm start`. */
  apiUrl: string;
  apiKey?: string;
  /** Where onnxruntime-web's .mjs/.wasm files are served (default `${apiUrl}/edge/ort/`). */
  wasmPaths?: string;
  /** WASM threads (default 1; more need a cross-origin isolated page, and are untested here). */
  threads?: number;
  /** Where the base is kept (default: the page's `caches`; null: not kept). */
  caches?: CacheStorageLike | null;
  /** Adapters (default: the store's API at apiUrl). */
  adapters?: AdapterSource;
  /** The engines (default: a WebEngines); tests wrap one to read the logits. */
  engines?: (web: WebEngines) => EngineProvider;
  cacheBytes?: number;
  maxBatchRows?: number;
  maxWaitMs?: number;
  fetch?: typeof fetch;
}

/** What loading bases cost so far: bytes fetched from the store and files read from the Cache API. */
export interface BaseLoadStats {
  fetchedBytes: number;
  fromCache: number;
  fetched: number;
}

export interface WebPredictor extends RuntimePredictor {
  readonly engines: WebEngines;
  readonly baseLoads: BaseLoadStats;
}

let configured = false;
function configureOrt(wasmPaths: string, threads: number): void {
  if (configured) return; // onnxruntime-web reads its env once, when the first session initialises WASM
  configured = true;
  ort.env.wasm.wasmPaths = wasmPaths;
  ort.env.wasm.numThreads = threads;
}

/** One onnxruntime-web session per (base, variant), each with that base's weights baked in. */
export class WebEngines implements EngineProvider {
  private readonly weights = new Map<string, ReadonlyMap<string, F32Tensor>>();
  private readonly engines = new Map<string, Promise<{ engine: Engine; session: ort.InferenceSession }>>();
  /** Milliseconds each session took to create (graph build + serialisation + onnxruntime), by `<base>/<variant>`. */
  readonly sessionCreateMs = new Map<string, number>();

  constructor(o: { wasmPaths: string; threads?: number }) {
    configureOrt(o.wasmPaths, o.threads ?? 1);
  }

  /** The base's weights (`bert.`-prefixed names), kept for the sessions of its variants. */
  addBase(name: string, weights: ReadonlyMap<string, F32Tensor>): void {
    this.weights.set(name, weights);
  }

  engine(base: ServingBase, variant: Variant): Promise<Engine> {
    const key = `${base.name}/${variantKey(variant)}`;
    let e = this.engines.get(key);
    if (!e) {
      e = this.create(base, variant, key);
      this.engines.set(key, e);
      e.catch(() => this.engines.delete(key));
    }
    return e.then((x) => x.engine);
  }

  private async create(base: ServingBase, variant: Variant, key: string): Promise<{ engine: Engine; session: ort.InferenceSession }> {
    const weights = this.weights.get(base.name);
    if (!weights) throw new Error(`web engine: no weights for base "${base.name}"`);
    const t0 = performance.now();
    const { graph, frozen } = buildServingGraph(base.config, variant);
    const initializers = new Map<string, Float32Array>();
    for (const p of frozen) {
      const t = weights.get(p.name);
      if (!t) throw new Error(`base "${base.name}" has no tensor "${p.name}"`);
      initializers.set(p.name, t.data);
    }
    const model = toOnnxModel(graph, 'serving', graph.outputs, { initializers });
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    this.sessionCreateMs.set(key, performance.now() - t0);
    const engine: Engine = {
      async run(rows: Record<string, FeedTensor>, adapters: readonly EngineAdapter[]) {
        const input: Record<string, ort.Tensor> = {};
        for (const [n, t] of Object.entries(rows)) input[n] = new ort.Tensor(t.type, t.data, t.dims);
        // One graph here (its base baked in: a second, index-free graph would hold the base twice in WASM
        // memory), so one adapter runs with every row on slot 0.
        if (!rows.adapter_index) {
          const B = rows.input_ids.dims[0];
          input.adapter_index = new ort.Tensor('int64', new BigInt64Array(B), [B]);
        }
        const perTask = adapters.length === 1 ? adapters[0].packed : stackPacked(adapters.map((a) => a.packed));
        for (const [n, t] of Object.entries(perTask)) input[n] = new ort.Tensor('float32', t.data, t.dims);
        const out = await session.run(input, ['logits']);
        const logits = out.logits;
        const data = logits.data as Float32Array;
        for (const t of Object.values(out)) if (t !== logits) t.dispose();
        return { data, dims: [...logits.dims] };
      },
    };
    return { engine, session };
  }

  async close(): Promise<void> {
    const all = [...this.engines.values()];
    this.engines.clear();
    this.weights.clear();
    for (const e of all) await e.then((x) => x.session.release()).catch(() => {});
  }
}

/** Fetches a base's files from the store, or reads them from the Cache API under its weights' sha256. */
function baseLoader(o: {
  root: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
  caches: CacheStorageLike | null;
  stats: BaseLoadStats;
}) {
  const fileUrl = (name: string, file: BaseModelFile) => `${o.root}/models/${encodeURIComponent(name)}/files/${file}`;
  const cacheKey = (name: string, file: BaseModelFile, sha: string) => `${fileUrl(name, file)}?sha256=${sha}`;

  const fetchFile = async (name: string, file: BaseModelFile): Promise<Uint8Array | null> => {
    const res = await o.fetch(fileUrl(name, file), { headers: o.headers });
    if (res.status === 404) {
      await res.body?.cancel();
      if (OPTIONAL.has(file)) return null;
      throw new PredictError(`the adapter's base model "${name}" is not in the store at ${o.root} (no ${file})`, 'base-missing');
    }
    if (!res.ok) throw new Error(`${fileUrl(name, file)}: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    o.stats.fetched++;
    o.stats.fetchedBytes += bytes.byteLength;
    return bytes;
  };

  /**
   * The files to fetch: the required ones and the optional ones GET /models lists for the base, so the page asks
   * for no file the base lacks (a 404 is an error in the browser's console). A store that does not list files
   * (an older API) is probed for every optional file.
   */
  const filesOf = async (name: string): Promise<readonly BaseModelFile[]> => {
    try {
      const res = await o.fetch(`${o.root}/models`, { headers: o.headers });
      if (!res.ok) {
        await res.body?.cancel();
        return BASE_MODEL_FILES;
      }
      const listed = ((await res.json()) as { data?: { name?: unknown; files?: unknown }[] }).data?.find((m) => m.name === name)?.files;
      if (!Array.isArray(listed)) return BASE_MODEL_FILES;
      return BASE_MODEL_FILES.filter((f) => !OPTIONAL.has(f) || listed.includes(f));
    } catch {
      return BASE_MODEL_FILES;
    }
  };

  /** Every file from the cache, or null unless all are there (a partial entry is refetched whole). */
  const readCached = async (cache: CacheLike, name: string, sha: string): Promise<Map<BaseModelFile, Uint8Array | null> | null> => {
    const files = new Map<BaseModelFile, Uint8Array | null>();
    for (const f of BASE_MODEL_FILES) {
      const hit = await cache.match(cacheKey(name, f, sha));
      if (!hit) return null;
      files.set(f, hit.status === 404 ? null : new Uint8Array(await hit.arrayBuffer()));
    }
    o.stats.fromCache += files.size;
    return files;
  };

  const store = async (cache: CacheLike, name: string, sha: string, files: Map<BaseModelFile, Uint8Array | null>): Promise<void> => {
    // Older bases of this name (a store rebuilt with other weights) go: the cache holds what adapters name now.
    const prefix = `${fileUrl(name, 'config.json').slice(0, -'config.json'.length)}`;
    for (const r of await cache.keys()) if (r.url.startsWith(prefix) && !r.url.endsWith(`?sha256=${sha}`)) await cache.delete(r.url);
    for (const [f, bytes] of files) {
      // An absent optional file is kept as a 404 too, so a reload asks the store for nothing.
      const res = bytes
        ? new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-length': String(bytes.byteLength) } })
        : new Response(null, { status: 404 });
      await cache.put(cacheKey(name, f, sha), res);
    }
  };

  const parse = async (name: string, files: Map<BaseModelFile, Uint8Array | null>) => {
    const text = (f: BaseModelFile) => {
      const b = files.get(f);
      return b ? { name: `${name}/${f}`, text: new TextDecoder().decode(b) } : undefined;
    };
    return parseBase(name, {
      config: text('config.json')!.text,
      weights: files.get('model.safetensors')!,
      tokenizer: tokenizerFiles(name, files, text),
    });
  };

  return async (name: string, sha: string | undefined) => {
    const cache = sha && o.caches ? await o.caches.open(BASE_CACHE_NAME).catch(() => null) : null;
    if (cache && sha) {
      const cached = await readCached(cache, name, sha);
      if (cached) {
        const parsed = await parse(name, cached);
        if (parsed.base.weightsSha256 === sha) return parsed;
        for (const f of BASE_MODEL_FILES) await cache.delete(cacheKey(name, f, sha)); // damaged: fetch again
      }
    }
    const files = new Map<BaseModelFile, Uint8Array | null>(BASE_MODEL_FILES.map((f) => [f, null]));
    const wanted = await filesOf(name);
    await Promise.all(wanted.map(async (f) => files.set(f, await fetchFile(name, f))));
    if (![...OPTIONAL].some((f) => f !== 'tokenizer_config.json' && files.get(f)))
      throw new PredictError(
        `base model "${name}" has no tokenizer (tokenizer.json, vocab.txt, vocab.json + merges.txt or sentencepiece.bpe.model)`,
        'base-missing',
      );
    const parsed = await parse(name, files);
    // Kept only under the sha256 it really has; a different one is refused by the runtime (base-mismatch).
    if (cache && sha && parsed.base.weightsSha256 === sha) await store(cache, name, sha, files).catch(() => {}); // quota: serve uncached
    return parsed;
  };
}

/** The tokenizer files a family loader reads, from a base's fetched files (tokenizer.json first, as load-tokenizer.ts). */
function tokenizerFiles(
  name: string,
  files: Map<BaseModelFile, Uint8Array | null>,
  text: (f: BaseModelFile) => { name: string; text: string } | undefined,
): FamilyTokenizerFiles {
  const spm = files.get('sentencepiece.bpe.model');
  return {
    tokenizerConfig: text('tokenizer_config.json'),
    tokenizerJson: text('tokenizer.json'),
    vocabJson: text('vocab.json'),
    mergesTxt: text('merges.txt'),
    sentencePiece: spm ? { name: `${name}/sentencepiece.bpe.model`, bytes: spm } : undefined,
    vocabTxt: text('vocab.txt'),
  };
}

/** The runtime in this page, over the store at `apiUrl`. */
export function createWebPredictor(o: WebPredictorOptions): WebPredictor {
  const root = o.apiUrl.replace(/\/+$/, '');
  const get = o.fetch ?? fetch.bind(globalThis);
  const headers: Record<string, string> = o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {};
  const web = new WebEngines({ wasmPaths: o.wasmPaths ?? `${root}/edge/ort/`, threads: o.threads });
  const engines = o.engines ? o.engines(web) : web;
  const inner = o.adapters ?? urlAdapterSource(root, { apiKey: o.apiKey, fetch: get });
  // The weights' sha256 each base is wanted at, from the manifests read: the key of its cached copy.
  const wanted = new Map<string, string>();
  const source: AdapterSource = {
    async manifest(task, version) {
      const m = await inner.manifest(task, version);
      wanted.set(m.baseModel.name, m.baseModel.weightsSha256);
      return m;
    },
    file: (task, version, name) => inner.file(task, version, name),
  };
  const baseLoads: BaseLoadStats = { fetchedBytes: 0, fromCache: 0, fetched: 0 };
  const pageCaches = (globalThis as { caches?: CacheStorageLike }).caches ?? null;
  const load = baseLoader({ root, headers, fetch: get, caches: o.caches === undefined ? pageCaches : o.caches, stats: baseLoads });
  const runtime = createPredictor({
    source,
    loadBase: async (name) => {
      const { base, weights } = await load(name, wanted.get(name));
      web.addBase(name, weights);
      return base;
    },
    engines,
    cacheBytes: o.cacheBytes,
    maxBatchRows: o.maxBatchRows,
    maxWaitMs: o.maxWaitMs,
  });
  return { ...runtime, cache: runtime.cache, engines: web, baseLoads };
}
