/**
 * The Node engine's feeds (issue 26): an adapter's packed feeds move to the worker once and stay there,
 * wrapped as tensors once (no per-run copy); a batch of one adapter runs the graph without adapter_index
 * on them as they are, and gives the logits of the gathering graph (a mixed batch) within 1e-6; the row
 * feeds go over transferred and the logits come back transferred; a forgotten adapter leaves the worker.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { FeedTensor, PackedFeeds } from '../../serving/engine.ts';
import { createNodePredictor, loadBaseDir, NodeEngines } from '../../serving/node.ts';
import { packAdapters } from '../../trainer/model/serving-graph.ts';
import { type ServingStore, servingStore, type TestAdapter } from '../support/serving-store.ts';

let store: ServingStore;
const adapters: Record<string, TestAdapter> = {};

before(async () => {
  store = await servingStore('engine-feeds-');
  for (const [task, o] of [
    ['alpha', { mode: 'adapter', labels: 2, bottleneck: 4, seed: 1 }],
    ['beta', { mode: 'adapter', labels: 3, bottleneck: 6, seed: 2 }],
  ] as const)
    adapters[task] = (await store.publish({ task, ...o })).adapter;
});
after(() => rmSync(store.root, { recursive: true, force: true }));

const ROWS = [
  [2n, 9n, 14n, 3n],
  [2n, 7n, 3n, 0n],
  [2n, 11n, 12n, 3n],
];

/** Row feeds for `rows` (padded with 0, mask 0), with adapter_index when `index` is given. */
function rowFeeds(rows: bigint[][], index?: number[]): Record<string, FeedTensor> {
  const B = rows.length;
  const S = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(B * S);
  const mask = new BigInt64Array(B * S);
  rows.forEach((r, b) =>
    r.forEach((v, s) => {
      ids[b * S + s] = v;
      mask[b * S + s] = v === 0n ? 0n : 1n;
    }),
  );
  const feeds: Record<string, FeedTensor> = {
    input_ids: { type: 'int64', data: ids, dims: [B, S] },
    attention_mask: { type: 'int64', data: mask, dims: [B, S] },
    token_type_ids: { type: 'int64', data: new BigInt64Array(B * S), dims: [B, S] },
  };
  if (index) feeds.adapter_index = { type: 'int64', data: BigInt64Array.from(index.map(BigInt)), dims: [B] };
  return feeds;
}

function assertRowsClose(got: Float32Array, gotL: number, want: Float32Array, wantL: number, labels: number, what: string): void {
  for (let b = 0; b < got.length / gotL; b++)
    for (let k = 0; k < labels; k++) {
      const x = got[b * gotL + k];
      const y = want[b * wantL + k];
      assert.ok(Math.abs(x - y) <= 1e-6, `${what}: row ${b} logit ${k}: ${x} vs ${y}`);
    }
}

test('one-adapter and mixed batches give the same logits; adapter feeds move once and are wrapped once; row feeds and logits are transferred', async () => {
  const engines = new NodeEngines(1);
  try {
    const base = await loadBaseDir('tiny', store.baseDir, engines);
    const engine = await engines.engine(base, { nonlinearity: 'gelu', usesPooler: base.hasPooler });
    const pack = (a: TestAdapter): PackedFeeds => packAdapters(base.layerNorms, base.config, [{ config: a.config, tensors: a.tensors }]);
    const alpha = { key: 'alpha', packed: pack(adapters.alpha) };
    const beta = { key: 'beta', packed: pack(adapters.beta) };
    // A second pack of alpha under another key: a mixed batch of alpha and it runs alpha through the gather.
    const alphaAgain = { key: 'alpha-again', packed: pack(adapters.alpha) };

    const feeds = rowFeeds(ROWS);
    const one = await engine.run(feeds, [alpha]);
    for (const [n, t] of Object.entries(feeds)) assert.equal(t.data.length, 0, `row feed ${n} was moved (transferred), not copied`);
    assert.equal(one.data.byteLength, one.data.buffer.byteLength, 'the logits arrive as their own buffer (transferred)');
    assert.deepEqual(one.dims, [3, 2]);
    for (const [n, t] of Object.entries(alpha.packed)) assert.equal(t.data.length, 0, `alpha's ${n} moved to the worker`);

    // The gathering graph: alpha in slot 0 and again in slot 1, beta in slot 2.
    const mixed = await engine.run(rowFeeds([...ROWS, ...ROWS, ...ROWS], [0, 0, 0, 1, 1, 1, 2, 2, 2]), [alpha, alphaAgain, beta]);
    const L = mixed.dims[1];
    assert.equal(L, 3, 'padded to the widest head');
    assertRowsClose(one.data, 2, mixed.data.subarray(0, 3 * L), L, 2, 'alpha alone vs alpha in slot 0 of a mixed batch');
    assertRowsClose(one.data, 2, mixed.data.subarray(3 * L, 6 * L), L, 2, 'alpha alone vs alpha in slot 1 of a mixed batch');
    const betaAlone = await engine.run(rowFeeds(ROWS), [beta]);
    assertRowsClose(betaAlone.data, 3, mixed.data.subarray(6 * L), L, 3, 'beta alone vs beta in slot 2 of a mixed batch');
    // Different adapters give different logits: the comparison above can fail.
    assert.ok(Math.abs(betaAlone.data[0] - one.data[0]) > 1e-4);

    for (let i = 0; i < 5; i++) {
      const again = await engine.run(rowFeeds(ROWS), [alpha]);
      assertRowsClose(again.data, 2, one.data, 2, 2, `alpha, run ${i + 2}`);
    }
    const stats = await engines.workerStats();
    assert.equal(stats.adapterFeedsBuilt, 2, 'alpha and beta wrapped once each, however many runs');
    assert.equal(stats.oneAdapterRuns, 7);
    assert.equal(stats.stackedRuns, 1, 'only the mixed batch stacked feeds');
    assert.equal(stats.residentAdapters, 3);

    engines.forget(alphaAgain);
    assert.equal((await engines.workerStats()).residentAdapters, 2, 'a forgotten adapter leaves the worker');
    await assert.rejects(engine.run(rowFeeds(ROWS), [alphaAgain]), /alpha-again's feed .* was lost/);
  } finally {
    await engines.close();
  }
});

test('an adapter the cache evicts leaves the worker once no request holds it; loaded again, it runs again', async () => {
  const p = await createNodePredictor({ registry: store.registry, threads: 1, cacheBytes: 1 });
  try {
    const first = await p.predict({ task: 'alpha', inputs: ['good movie'] });
    assert.equal((await p.engines.workerStats()).residentAdapters, 1);
    await p.predict({ task: 'beta', inputs: ['good movie'] });
    assert.deepEqual(p.cache.keys.length, 1, 'alpha was evicted');
    assert.equal((await p.engines.workerStats()).residentAdapters, 1, "alpha's feeds left the worker");
    // Concurrent requests of both: each holds its adapter while the other's load evicts it.
    const both = await Promise.all([p.predict({ task: 'alpha', inputs: ['good movie'] }), p.predict({ task: 'beta', inputs: ['a'] })]);
    assert.deepEqual(both[0].predictions, first.predictions, 'alpha reloaded gives the same answer');
    const stats = await p.engines.workerStats();
    assert.ok(stats.residentAdapters <= 1, `${stats.residentAdapters} adapters on the worker for a cache of one`);
  } finally {
    await p.close();
  }
});
