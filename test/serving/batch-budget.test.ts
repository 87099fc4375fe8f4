/**
 * Mixed batches stay within their budgets (issue 21, finding 1): the review's probe scaled to the tiny
 * base (one adapter of bottleneck 4,096 among 31 of bottleneck 64, ten rounds of 32 one-text predicts)
 * never stacks more padded bytes than the budget, and the wide adapter runs alone on its own feeds; the
 * distinct adapters of a run are capped; the batcher's record of runs is counters plus a bounded ring
 * (finding 7). The engine here runs no graph: it records what each run would stack.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { MicroBatcher, RECENT_RUNS } from '../../serving/batcher.ts';
import type { Engine } from '../../serving/engine.ts';
import { type FakeServing, fakeServing, fakeStore } from '../support/fake-serving.ts';

const store = fakeStore('batch-budget-');
const NARROW = Array.from({ length: 31 }, (_, i) => `narrow-${i}`);
/** Each narrow adapter packed is ~35 kB on the tiny base; the wide one ~2.1 MB. */
const BUDGET = 2 * 1024 * 1024;

before(() => {
  store.add({ task: 'wide', mode: 'adapter', labels: 2, bottleneck: 4096, seed: 1 });
  store.add({ task: 'wider', mode: 'adapter', labels: 2, bottleneck: 16384, seed: 2 }); // ~8.4 MB packed
  NARROW.forEach((task, i) => store.add({ task, mode: 'adapter', labels: 2, bottleneck: 64, seed: 10 + i }));
});
after(() => rmSync(store.root, { recursive: true, force: true }));

/** Loads every adapter first, so that a round's requests arrive together, as concurrent clients' do. */
async function warm(s: FakeServing, tasks: string[]): Promise<number> {
  await Promise.all(tasks.map((task) => s.predictor.predict({ task, inputs: ['warm up'] })));
  return s.runs.length;
}

async function rounds(s: FakeServing, n: number, tasks: string[]): Promise<void> {
  for (let round = 0; round < n; round++) {
    const results = await Promise.all(tasks.map((task) => s.predictor.predict({ task, inputs: [`round ${round} of ${task}`] })));
    for (const [i, r] of results.entries()) assert.equal(r.task, tasks[i]);
  }
}

test('one wide adapter among 31 narrow ones: no run stacks more than the padded-bytes budget; the wide one runs alone', async () => {
  // A run starts when a round's 32 rows wait (maxWaitMs is long): each round offers the batcher one batch of all 32.
  const s = await fakeServing(store, { maxBatchPaddedBytes: BUDGET, maxBatchAdapters: 32, maxBatchRows: 32, maxWaitMs: 200 });
  try {
    await warm(s, ['wide', ...NARROW]);
    s.runs.length = 0;
    await rounds(s, 10, ['wide', ...NARROW]);
    assert.equal(
      s.runs.reduce((n, r) => n + r.rows, 0),
      320,
      'every row ran once',
    );
    for (const r of s.runs) assert.ok(r.stackedBytes <= BUDGET, `a run stacked ${r.stackedBytes} bytes (budget ${BUDGET})`);
    // The narrow ones still share runs: the budget splits batches, it does not end mixing.
    assert.ok(
      s.runs.some((r) => r.adapters >= 16),
      `narrow adapters mixed: ${JSON.stringify(s.runs.map((r) => r.adapters))}`,
    );
    const stats = s.predictor.batchStats();
    assert.equal(stats.rows, 320 + 32);
    assert.ok(stats.maxPaddedBytes <= BUDGET);
    const wideRuns = s.predictor.batches().filter((b) => b.adapters === 1);
    assert.ok(wideRuns.length >= 1, 'the wide adapter ran alone (its own feeds, nothing stacked)');
  } finally {
    s.release();
  }
});

test('with the default budgets, adapters mix only when padding adds at most half their own bytes', async () => {
  const s = await fakeServing(store, { maxBatchRows: 8, maxWaitMs: 1000 }); // a round of 8 starts a run at once
  const tasks = ['wider', ...NARROW.slice(0, 7)];
  const warmRuns = await warm(s, tasks);
  await rounds(s, 3, tasks);
  const runs = s.predictor.batches().slice(warmRuns);
  assert.equal(
    runs.reduce((n, r) => n + r.rows, 0),
    24,
  );
  // Each round: the wider adapter alone (its own feeds) and the seven narrow ones together, in either order.
  assert.deepEqual(runs.map((r) => r.adapters).sort(), [1, 1, 1, 7, 7, 7]);
  assert.equal(s.runs.slice(warmRuns).filter((r) => r.adapters > 1).length, 3);
});

test('a run carries at most maxBatchAdapters distinct adapters; rows left out run next, none lost', async () => {
  const s = await fakeServing(store, { maxBatchAdapters: 4, maxBatchRows: 32 });
  s.hold();
  const all = Promise.all(NARROW.slice(0, 12).map((task) => s.predictor.predict({ task, inputs: ['a', 'b'] })));
  await new Promise((r) => setTimeout(r, 50));
  s.release();
  const results = await all;
  assert.equal(results.length, 12);
  for (const r of s.runs) assert.ok(r.adapters <= 4, `a run mixed ${r.adapters} adapters`);
  assert.equal(
    s.runs.reduce((n, r) => n + r.rows, 0),
    24,
  );
});

test('the batcher keeps counters and a bounded ring of recent runs, not an entry per run forever', async () => {
  const engine: Engine = {
    run: async (rows) => ({ data: new Float32Array(rows.input_ids.dims[0] * 2), dims: [rows.input_ids.dims[0], 2] }),
  };
  const b = new MicroBatcher({ engine: async () => engine, padId: 0, maxRows: 1, maxWaitMs: 0, maxAdapters: 1, maxPaddedBytes: 0 });
  const adapter = { key: 'a', numLabels: 2, packed: {} };
  const runs = RECENT_RUNS + 50;
  for (let i = 0; i < runs; i++) await b.submit(adapter, [{ inputIds: [1, 2], tokenTypeIds: [0, 0], truncatedTokens: 0 }]);
  assert.equal(b.stats.runs, runs);
  assert.equal(b.stats.rows, runs);
  assert.equal(b.recent().length, RECENT_RUNS);
  assert.ok(!('history' in b), 'no unbounded history');
});
