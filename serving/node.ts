/**
 * The runtime on Node: onnxruntime-node on a worker thread (node-worker.ts), bases read from local
 * directories (downloaded from the registry's models/<name>/ once), adapters from the registry by default.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SLUG_RE } from '../shared/job-schema.ts';
import type { Registry } from '../shared/registry/index.ts';
import type { FamilyTokenizerFiles } from '../trainer/tokenizer/piece-sources.ts';
import type { AdapterSource } from './adapter-source.ts';
import { parseBase, type ServingBase } from './base.ts';
import type { Engine, EngineAdapter, EngineProvider, FeedTensor, PackedFeeds, Variant } from './engine.ts';
import { variantKey } from './engine.ts';
import { registryAdapterSource } from './node-sources.ts';
import type { WeightLayout, WorkerAdapter, WorkerReply, WorkerRequest, WorkerStats } from './node-worker.ts';
import { PredictError } from './predictor.ts';
import { createPredictor, type RuntimeOptions, type RuntimePredictor } from './runtime.ts';
import { epochMs } from './trace.ts';

/** The runtime's own bounds and options (runtime.ts documents each and its default). */
type RuntimeTuning = Omit<RuntimeOptions, 'source' | 'loadBase' | 'engines'>;

export interface NodePredictorOptions extends RuntimeTuning {
  registry: Registry;
  /** Where adapters come from (default: the registry); e.g. urlAdapterSource or directoryAdapterSource. */
  adapters?: AdapterSource;
  /** onnxruntime intra-op threads (default: every core). */
  threads?: number;
  /**
   * A local directory holding base `name` (config.json, model.safetensors, vocab.txt | tokenizer.json).
   * Default: models/<name>/ downloaded from the registry once, into a temporary directory removed on close.
   * A directory that already has model.safetensors is used as it is.
   */
  baseDir?: (name: string) => Promise<string>;
}

// From source the worker is node-worker.ts; in the Lambda bundle (cdk/inference.ts) it ships beside the
// handler as node-worker.mjs.
const WORKER = new URL(import.meta.url.endsWith('.ts') ? './node-worker.ts' : './node-worker.mjs', import.meta.url);

/** Under tsx (this repository) a worker cannot load a .ts file by itself: import it through tsx's API. */
function startWorker(threads?: number): Worker {
  const workerData = { threads };
  // A worker inherits the parent's execArgv, and `--input-type` (a parent started with -e) fails a file entry.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  if (!WORKER.pathname.endsWith('.ts')) return new Worker(WORKER, { workerData, execArgv });
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${JSON.stringify(WORKER.href)}, ${JSON.stringify(WORKER.href)}));`;
  return new Worker(boot, { eval: true, workerData });
}

type Pending = {
  resolve: (r: WorkerReply & { ok: true }) => void;
  reject: (e: Error) => void;
};
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** One worker thread holding every base and session of this process, started on first use (a server that never predicts pays nothing). */
export class NodeEngines implements EngineProvider {
  private started: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly engines = new Map<string, Promise<Engine>>();
  /** Milliseconds each session took to create (graph build + onnxruntime), by `<base>/<variant>`. */
  readonly sessionCreateMs = new Map<string, number>();
  /** The worker's id of each adapter whose packed feeds moved there (they stay until forget). */
  private onWorker = new WeakMap<PackedFeeds, number>();
  private readonly forgotten = new WeakSet<PackedFeeds>();
  private nextAdapter = 1;

  constructor(private readonly threads?: number) {}

  private get worker(): Worker {
    if (this.started) return this.started;
    const worker = startWorker(this.threads);
    this.started = worker;
    worker.unref();
    worker.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r);
      else p.reject(new Error(`inference worker: ${r.error}`));
    });
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => {
      if (this.started === worker) this.started = null;
      this.onWorker = new WeakMap(); // what it held is gone with it (checkNotLost says so)
      this.failAll(new Error(`inference worker exited (${code})`));
    });
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private call(m: WithoutId<WorkerRequest>, transfer: ArrayBuffer[] = []): Promise<WorkerReply & { ok: true }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref(); // keep the process alive only while work is pending
      this.worker.postMessage({ ...m, id } as WorkerRequest, transfer);
    }).finally(() => {
      if (this.pending.size === 0) this.started?.unref();
    }) as Promise<WorkerReply & { ok: true }>;
  }

  /** Hands a base's weights to the worker (the buffer moves there; views of it here become empty). */
  async addBase(name: string, config: ServingBase['config'], weights: Map<string, { shape: number[]; data: Float32Array }>): Promise<void> {
    const views = [...weights.values()];
    const shared = views[0]?.data.buffer;
    let buffer: ArrayBuffer;
    const layout: WeightLayout[] = [];
    if (shared instanceof ArrayBuffer && views.every((v) => v.data.buffer === shared && v.data.byteOffset % 4 === 0)) {
      buffer = shared; // the file's bytes: move them, no copy
      for (const [n, v] of weights) layout.push({ name: n, offset: v.data.byteOffset / 4, shape: v.shape });
    } else {
      const total = views.reduce((s, v) => s + v.data.length, 0);
      const all = new Float32Array(total);
      let at = 0;
      for (const [n, v] of weights) {
        all.set(v.data, at);
        layout.push({ name: n, offset: at, shape: v.shape });
        at += v.data.length;
      }
      buffer = all.buffer;
    }
    await this.call({ op: 'base', name, config, buffer, layout }, [buffer]);
  }

  engine(base: ServingBase, variant: Variant): Promise<Engine> {
    const key = `${base.name}/${variantKey(variant)}`;
    let e = this.engines.get(key);
    if (!e) {
      e = this.call({ op: 'session', key, base: base.name, variant }).then((r) => {
        this.sessionCreateMs.set(key, r.createMs ?? Number.NaN);
        return {
          run: async (feeds, adapters, trace) => {
            const transfer = runTransfer(feeds);
            const sent = adapters.map((a) => this.toWorker(a, transfer));
            const posted = trace ? epochMs() : 0;
            const reply = await this.call({ op: 'run', key, feeds, adapters: sent, trace: trace !== undefined }, transfer);
            if (!reply.logits) throw new Error('inference worker: no logits');
            if (trace && reply.times) {
              const t = reply.times;
              trace('hopOut', t.received - posted);
              trace('engineFeeds', t.fed - t.received);
              trace('session', t.ran - t.fed);
              trace('hopBack', epochMs() - t.ran);
            }
            return reply.logits;
          },
        };
      });
      this.engines.set(key, e);
      e.catch(() => this.engines.delete(key));
    }
    return e;
  }

  /**
   * How a run names an adapter: by id once its feeds are on the worker; with its feeds moved there (added
   * to `transfer`) on its first run; copied for one run if the runtime already forgot it.
   */
  private toWorker(a: EngineAdapter, transfer: ArrayBuffer[]): WorkerAdapter {
    const id = this.onWorker.get(a.packed);
    if (id !== undefined) return { adapter: id };
    checkNotLost(a);
    if (this.forgotten.has(a.packed)) return { adapter: 0, packed: a.packed, keep: false };
    const adapter = this.nextAdapter++;
    this.onWorker.set(a.packed, adapter);
    for (const t of Object.values(a.packed)) if (wholeBuffer(t.data)) transfer.push(t.data.buffer as ArrayBuffer);
    return { adapter, packed: a.packed, keep: true };
  }

  /** The adapter left the runtime's cache, and no request holds it: the worker drops its feeds. */
  forget(a: EngineAdapter): void {
    this.forgotten.add(a.packed);
    const id = this.onWorker.get(a.packed);
    if (id === undefined) return;
    this.onWorker.delete(a.packed);
    this.started?.postMessage({ op: 'forget', id: 0, adapter: id } satisfies WorkerRequest);
  }

  /** The worker's counters (0 before it starts). */
  async workerStats(): Promise<WorkerStats> {
    if (!this.started) return { adapterFeedsBuilt: 0, stackedRuns: 0, oneAdapterRuns: 0, residentAdapters: 0 };
    const r = await this.call({ op: 'stats' });
    return r.stats!;
  }

  async close(): Promise<void> {
    const worker = this.started;
    if (!worker) return;
    try {
      await this.call({ op: 'close' });
    } finally {
      this.started = null;
      await worker.terminate();
    }
  }
}

const wholeBuffer = (a: Float32Array | BigInt64Array) =>
  a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength;

/** What a run moves to the worker instead of copying: its own row feeds (a buffer shared with other data is copied). */
function runTransfer(feeds: Record<string, FeedTensor>): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const t of Object.values(feeds)) if (wholeBuffer(t.data)) buffers.push(t.data.buffer as ArrayBuffer);
  return buffers;
}

/** Feeds moved to a worker that since exited are gone from this thread: say so rather than run zeros. */
function checkNotLost(a: EngineAdapter): void {
  for (const [name, t] of Object.entries(a.packed))
    if (t.data.length === 0 && t.dims.every((n) => n > 0))
      throw new Error(`inference: adapter ${a.key}'s feed "${name}" was lost (the worker holding it exited); reload the adapter`);
}

/**
 * A base directory's tokenizer files, in the order the family loaders prefer them (load-tokenizer.ts):
 * tokenizer.json, else vocab.json + merges.txt, else a SentencePiece *.model, else vocab.txt.
 */
async function tokenizerFilesOf(dir: string): Promise<FamilyTokenizerFiles> {
  const text = async (f: string) => ({ name: join(dir, f), text: await readFile(join(dir, f), 'utf8') });
  const at = (f: string) => existsSync(join(dir, f));
  const files: FamilyTokenizerFiles = {};
  if (at('tokenizer_config.json')) files.tokenizerConfig = await text('tokenizer_config.json');
  if (at('tokenizer.json')) files.tokenizerJson = await text('tokenizer.json');
  else if (at('vocab.json') || at('merges.txt')) {
    if (at('vocab.json')) files.vocabJson = await text('vocab.json');
    if (at('merges.txt')) files.mergesTxt = await text('merges.txt');
  } else {
    const model = readdirSync(dir).find((f) => f.endsWith('.model'));
    if (model) files.sentencePiece = { name: join(dir, model), bytes: new Uint8Array(await readFile(join(dir, model))) };
    else if (at('vocab.txt')) files.vocabTxt = await text('vocab.txt');
  }
  return files;
}

/** Reads a base directory and hands its weights to the engines. */
export async function loadBaseDir(name: string, dir: string, engines: NodeEngines): Promise<ServingBase> {
  const file = await readFile(join(dir, 'model.safetensors'));
  // A Buffer may sit in Node's shared pool: give the weights an ArrayBuffer of their own to move to the worker.
  const weights = file.byteOffset === 0 && file.buffer.byteLength === file.byteLength ? new Uint8Array(file.buffer) : new Uint8Array(file);
  const parsed = await parseBase(name, {
    config: await readFile(join(dir, 'config.json'), 'utf8'),
    weights,
    tokenizer: await tokenizerFilesOf(dir),
  });
  await engines.addBase(name, parsed.base.config, parsed.weights);
  return parsed.base;
}

export interface NodePredictor extends RuntimePredictor {
  readonly engines: NodeEngines;
}

export async function createNodePredictor(opts: NodePredictorOptions): Promise<NodePredictor> {
  const { registry, adapters, threads, baseDir: givenBaseDir, ...tuning } = opts;
  const engines = new NodeEngines(threads);
  let scratch: string | null = null;
  const baseDir =
    givenBaseDir ??
    (async (name: string) => {
      scratch ??= await mkdtemp(join(tmpdir(), 'adapter-store-bases-'));
      return join(scratch, name);
    });
  const loadBase = async (name: string): Promise<ServingBase> => {
    // The name comes from a stored manifest: a slug before it becomes a path (a planted "../.." must not).
    if (!SLUG_RE.test(name))
      throw new PredictError(
        `the adapter's manifest names base model ${JSON.stringify(name.slice(0, 80))}, which is not a model name`,
        'corrupt',
      );
    const dir = await baseDir(name);
    if (!existsSync(join(dir, 'model.safetensors'))) {
      if (!(await registry.models.exists(name)))
        throw new PredictError(`the adapter's base model "${name}" is not in the store (${registry.models.uri(name)})`, 'base-missing');
      await registry.models.download(name, dir);
    }
    return loadBaseDir(name, dir, engines);
  };
  const runtime = createPredictor({
    ...tuning,
    source: adapters ?? registryAdapterSource(registry),
    loadBase,
    engines,
  });
  return {
    ...runtime,
    cache: runtime.cache,
    engines,
    async close() {
      await runtime.close();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    },
  };
}
