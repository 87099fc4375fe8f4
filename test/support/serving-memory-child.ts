/**
 * A serving process for test/serving/memory-flat.test.ts (run with --expose-gc): the app's predict route,
 * in process, over the Node predictor and a directory store with the tiny base and four adapters. It
 * answers `predictions` predictions in requests of `rowsPerRequest` texts (every text new, adapters mixed,
 * `concurrency` requests in flight, some pinning a version), with an adapter cache too small for all four
 * (so adapters are evicted and loaded again), and prints one JSON line: the main thread's used heap and
 * ArrayBuffer bytes after full garbage collections, once `warmup` predictions were answered and again at
 * the end.
 */
import { rmSync } from 'node:fs';
import v8 from 'node:v8';
import { createApp } from '../../functions/app.ts';
import { createNodePredictor } from '../../serving/node.ts';
import { servingStore } from './serving-store.ts';

export interface MemoryRunOptions {
  predictions: number;
  warmup: number;
  rowsPerRequest: number;
  concurrency: number;
  /** Rows of one run of the graph at most: smaller runs, more of them per prediction. */
  maxBatchRows: number;
  /** Readings between warm-up and the end (default 1: the end only). */
  trace?: number;
}

export interface MemoryRunReport {
  predictions: number;
  requests: number;
  runs: number;
  mixedRuns: number;
  /** Adapters seen arriving in the cache after a request (a reload after eviction counts again; a lower bound). */
  loads: number;
  /** heapUsed: bytes in V8's heap spaces other than code. */
  warm: { heapUsed: number; arrayBuffers: number };
  end: { heapUsed: number; arrayBuffers: number };
  trace: { predictions: number; heapUsed: number; arrayBuffers: number }[];
}

const KEY = 'memory-key-0123456789';
const WORDS = ['a', 'warm', 'funny', 'moving', 'film', 'dull', 'long', 'plot', 'cast', 'score', 'never', 'again', 'loved', 'it'];

const gc = (globalThis as { gc?: () => void }).gc;

/** Used heap and ArrayBuffer bytes once nothing unreachable is left (a few full collections, turns between). */
async function settled(): Promise<{ heapUsed: number; arrayBuffers: number }> {
  if (!gc) throw new Error('run with --expose-gc');
  // Callbacks of finished work (file handles closing on the thread pool) get their turn first.
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  // Compiled code is left out: the JIT compiles more functions as they get warm, which is not data kept.
  let objects = 0;
  for (const space of v8.getHeapSpaceStatistics()) if (!space.space_name.startsWith('code')) objects += space.space_used_size;
  return { heapUsed: objects, arrayBuffers: process.memoryUsage().arrayBuffers };
}

/** Request n's texts: each one new (its number in words), a pair now and then. */
function textsOf(n: number, rows: number): (string | { text: string; text_pair: string })[] {
  return Array.from({ length: rows }, (_, i) => {
    const k = n * rows + i;
    const words = Array.from({ length: 3 + (k % 9) }, (_, j) => WORDS[(k * 7 + j * 3) % WORDS.length]);
    const text = `${words.join(' ')} ${k}`;
    return k % 5 === 0 ? { text, text_pair: `was it ${k % 2 ? 'good' : 'bad'}? ${k}` } : text;
  });
}

async function main(o: MemoryRunOptions): Promise<MemoryRunReport> {
  const store = await servingStore('memory-flat-');
  try {
    const versions: Record<string, string> = {};
    for (const [task, a] of [
      ['alpha', { mode: 'adapter', labels: 2, bottleneck: 4, seed: 1 }],
      ['beta', { mode: 'adapter', labels: 3, bottleneck: 6, layers: [1] as number[], trainLayernorms: false, seed: 2 }],
      ['gamma', { mode: 'head', labels: 2, seed: 3 }],
      ['delta', { mode: 'adapter', labels: 4, bottleneck: 8, seed: 4 }],
    ] as const) {
      versions[task] = (await store.publish({ task, ...a })).manifest.version;
    }
    const tasks = Object.keys(versions);
    const probe = await createNodePredictor({ registry: store.registry, threads: 1, maxWaitMs: 0 });
    const sizes: number[] = [];
    for (const task of tasks) {
      const before = probe.cache.bytes;
      await probe.predict({ task, inputs: ['x'] });
      sizes.push(probe.cache.bytes - before);
    }
    await probe.close();
    // Room for the three smallest: one of the four is always out, so a request for it loads it again.
    const cacheBytes = sizes
      .sort((a, b) => a - b)
      .slice(0, 3)
      .reduce((a, b) => a + b, 0);

    const predictor = await createNodePredictor({
      registry: store.registry,
      threads: 1,
      cacheBytes,
      maxBatchRows: o.maxBatchRows,
      maxWaitMs: 1,
    });
    let logged = 0;
    const app = createApp({
      apiKeys: [KEY],
      predictor,
      log: (line) => {
        logged += JSON.stringify(line).length; // the request log runs as it does in a server, its lines dropped
      },
    });
    let loads = 0;
    let lastKeys = new Set<string>();
    const requests = Math.ceil(o.predictions / o.rowsPerRequest);
    let next = 0;
    let answered = 0;
    const one = async (n: number) => {
      const task = tasks[(n * 3 + (n >> 2)) % tasks.length];
      const pin = n % 8 === 0 ? `?version=${versions[task]}` : '';
      const res = await app.request(`/adapters/${task}/predict${pin}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: textsOf(n, o.rowsPerRequest) }),
      });
      const body = (await res.json()) as { predictions?: unknown[] };
      if (res.status !== 200 || body.predictions?.length !== o.rowsPerRequest)
        throw new Error(`request ${n} (${task}): HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
      answered += o.rowsPerRequest;
      const keys = new Set(predictor.cache.keys);
      for (const k of keys) if (!lastKeys.has(k)) loads++;
      lastKeys = keys;
    };
    // The same requests, one per task in order, before each reading: the cache then holds the same adapters.
    const sameCache = async () => {
      for (const task of tasks) {
        const res = await app.request(`/adapters/${task}/predict`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: ['the same text'] }),
        });
        if (res.status !== 200) throw new Error(`reading ${task}: HTTP ${res.status}`);
        await res.arrayBuffer();
      }
    };
    const phase = async (until: number) => {
      await Promise.all(
        Array.from({ length: o.concurrency }, async () => {
          while (next < until) await one(next++);
        }),
      );
      // The least of three readings: something briefly alive (a closing file handle) only ever adds.
      let least = { heapUsed: Infinity, arrayBuffers: Infinity };
      for (let i = 0; i < 3; i++) {
        await sameCache();
        const r = await settled();
        least = { heapUsed: Math.min(least.heapUsed, r.heapUsed), arrayBuffers: Math.min(least.arrayBuffers, r.arrayBuffers) };
      }
      return least;
    };
    // To the warm-up count, a reading with nothing in flight, then on to the end and another.
    const trace: { predictions: number; heapUsed: number; arrayBuffers: number }[] = [];
    const warmRequests = Math.ceil(o.warmup / o.rowsPerRequest);
    const warm = await phase(warmRequests);
    const steps = o.trace ?? 1;
    let end = warm;
    for (let i = 1; i <= steps; i++) {
      end = await phase(warmRequests + Math.round(((requests - warmRequests) * i) / steps));
      trace.push({ predictions: answered, ...end });
    }
    const stats = predictor.batchStats();
    await predictor.close();
    if (logged === 0) throw new Error('nothing was logged: the request log did not run');
    return { predictions: answered, requests, runs: stats.runs, mixedRuns: stats.mixedRuns, loads, warm, end, trace };
  } finally {
    rmSync(store.root, { recursive: true, force: true });
  }
}

const options = JSON.parse(process.argv[2] ?? '{}') as MemoryRunOptions;
main(options).then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
