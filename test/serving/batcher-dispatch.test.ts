/**
 * Continuous batching (issue 26): a row that finds the engine idle runs at once, with no timer between
 * submit and run; rows that arrive while a run is in flight coalesce into one next batch, which starts
 * when that run ends. Observed by event order on an engine stub, never by wall-clock time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MicroBatcher } from '../../serving/batcher.ts';
import type { Engine, EngineAdapter, FeedTensor } from '../../serving/engine.ts';
import { DEFAULT_MAX_WAIT_MS } from '../../serving/runtime.ts';
import type { Encoding } from '../../trainer/tokenizer/bert-tokenizer-core.ts';

/** An engine recording each run's rows and adapters, each run held until the test releases it. */
function stubEngine() {
  const runs: { rows: number; adapters: string[]; hasIndex: boolean }[] = [];
  const gates: (() => void)[] = [];
  const engine: Engine = {
    run(rows: Record<string, FeedTensor>, adapters: readonly EngineAdapter[]) {
      const B = rows.input_ids.dims[0];
      runs.push({ rows: B, adapters: adapters.map((a) => a.key), hasIndex: 'adapter_index' in rows });
      return new Promise((resolve) => gates.push(() => resolve({ data: new Float32Array(B * 2).fill(runs.length), dims: [B, 2] })));
    },
  };
  return { engine, runs, releaseNext: () => gates.shift()?.() };
}

const enc = (n: number): Encoding => ({ inputIds: [2, n, 3], tokenTypeIds: [0, 0, 0], truncatedTokens: 0 });
const adapter = (key: string) => ({ key, numLabels: 2, packed: {} });
/** Lets pending promise callbacks run (no timers: a macrotask turn). */
const turn = () => new Promise<void>((r) => setImmediate(r));

function batcher(engine: Engine, maxWaitMs = 0) {
  return new MicroBatcher({ engine: async () => engine, padId: 0, maxRows: 32, maxWaitMs, maxAdapters: 8, maxPaddedBytes: 1 << 30 });
}

test('an idle engine runs a lone request at once: its run starts before any timer could fire', async () => {
  assert.equal(DEFAULT_MAX_WAIT_MS, 0, 'the runtime default: no idle window');
  const s = stubEngine();
  const b = batcher(s.engine, DEFAULT_MAX_WAIT_MS);
  const done = b.submit(adapter('a'), [enc(5)]);
  // Only microtasks have run (the engine promise): no setTimeout, not even of 0 ms, came between.
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(s.runs.length, 1, 'the run started within the same turn as submit');
  assert.deepEqual(s.runs[0], { rows: 1, adapters: ['a'], hasIndex: false });
  s.releaseNext();
  assert.equal((await done).length, 1);
});

test('rows arriving while a run is in flight coalesce into one next batch, started when the run ends', async () => {
  const s = stubEngine();
  const b = batcher(s.engine);
  const first = b.submit(adapter('a'), [enc(1)]);
  await turn();
  assert.equal(s.runs.length, 1);
  const later = [b.submit(adapter('a'), [enc(2), enc(3)]), b.submit(adapter('b'), [enc(4)]), b.submit(adapter('a'), [enc(5)])];
  await turn();
  await turn();
  assert.equal(s.runs.length, 1, 'nothing else runs while the engine is busy');
  assert.equal(b.waiting, 4);
  s.releaseNext();
  await first;
  await turn();
  assert.equal(s.runs.length, 2, 'the next batch started as the run ended');
  assert.deepEqual(s.runs[1], { rows: 4, adapters: ['a', 'b'], hasIndex: true });
  s.releaseNext();
  const results = await Promise.all(later);
  assert.deepEqual(
    results.map((r) => r.length),
    [2, 1, 1],
  );
  assert.equal(results[0][0][0], 2, 'the rows got the second run’s logits');
});

test('maxWaitMs > 0 still opts into an idle window: a lone row waits for company', async () => {
  const s = stubEngine();
  const b = batcher(s.engine, 60_000);
  const done = b.submit(adapter('a'), [enc(1)]);
  await turn();
  await turn();
  assert.equal(s.runs.length, 0, 'waiting for company (maxRows or the window)');
  b.drain(new Error('closing'));
  await assert.rejects(done, /closing/);
});
