/**
 * A serving process keeps no entry per request: the app's predict route over the Node predictor answers
 * 20,000 predictions (2,500 requests of 8 new texts, four adapters mixed in batches of at most 6 rows, an
 * adapter cache too small for all four) in a child process, and the memory its main thread holds after
 * full collections is the same after 20,000 predictions as after the first 2,000, within 64 KiB.
 *
 * Sensitivity: a per-run array ({rows, adapters} pushed once per batch, as MicroBatcher.history once did)
 * grew the heap by ~200 KB over the ~3,300 runs after warm-up, and one small entry per request by ~170 KB:
 * both fail this test; readings without them differ by under 20 KB (.notes/app.md has the figures). The child runs with the JIT off and
 * every function compiled up front: otherwise compiled code and type feedback grow and shrink by hundreds
 * of KB as functions warm up, and bytecode for a path first taken after warm-up counts as growth, none
 * of it data the server keeps. The worker thread's own heap (onnxruntime sessions) is not read here: it
 * holds a session per graph and nothing per run (serving/node-worker.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import type { MemoryRunOptions, MemoryRunReport } from '../support/serving-memory-child.ts';

const CHILD = new URL('../support/serving-memory-child.ts', import.meta.url).pathname;
// No optimising or baseline JIT, every function compiled (and its feedback allocated) when loaded, none
// flushed: what V8 compiles for itself then stays put, and only data the server keeps can move the heap.
const NO_JIT = ['--no-opt', '--no-maglev', '--no-sparkplug', '--no-lazy', '--no-lazy-feedback-allocation', '--no-flush-bytecode'];
/** What the used heap may differ by between the readings. */
const HEAP_SLACK_BYTES = 64 * 1024;
/** ArrayBuffer bytes (adapter feeds, file reads) move more between readings; a leak of them shows in the heap too. */
const ARRAY_BUFFER_SLACK_BYTES = 1024 * 1024;

function runChild(o: MemoryRunOptions): Promise<MemoryRunReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', ...NO_JIT, '--import', 'tsx', CHILD, JSON.stringify(o)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`serving child exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as MemoryRunReport);
    });
  });
}

test('20,000 predictions through the predict route: the heap after 20,000 is the heap after 2,000, within 64 KiB', {
  timeout: 600_000,
}, async (t) => {
  const o: MemoryRunOptions = { predictions: 20_000, warmup: 2_000, rowsPerRequest: 8, concurrency: 8, maxBatchRows: 6 };
  const r = await runChild(o);
  const heapGrowth = r.end.heapUsed - r.warm.heapUsed;
  const bufferGrowth = r.end.arrayBuffers - r.warm.arrayBuffers;
  t.diagnostic(
    `${r.predictions} predictions in ${r.requests} requests, ${r.runs} runs (${r.mixedRuns} mixed), ${r.loads} adapter loads; ` +
      `heap ${r.warm.heapUsed} B after ${o.warmup}, ${r.end.heapUsed} B after ${r.predictions} (${heapGrowth >= 0 ? '+' : ''}${heapGrowth} B); ` +
      `ArrayBuffers ${r.warm.arrayBuffers} -> ${r.end.arrayBuffers} B`,
  );
  // The run did what it says: every prediction answered, many runs, mixed batches, adapters evicted and reloaded.
  assert.equal(r.predictions, 20_000);
  assert.ok(r.runs >= 20_000 / o.maxBatchRows, `${r.runs} runs`);
  assert.ok(r.mixedRuns > 100, `${r.mixedRuns} mixed runs`);
  assert.ok(r.loads > 4, `${r.loads} adapter loads: the cache evicted and loaded again`);
  assert.ok(heapGrowth < HEAP_SLACK_BYTES, `the heap grew by ${heapGrowth} bytes from ${o.warmup} to ${r.predictions} predictions`);
  assert.ok(bufferGrowth < ARRAY_BUFFER_SLACK_BYTES, `ArrayBuffers grew by ${bufferGrowth} bytes`);
});
