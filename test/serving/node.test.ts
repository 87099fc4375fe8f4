/**
 * The Node runtime over a directory store: each adapter's logits equal the trainer's own inference
 * (ModelSessions, the `trainer predict` path) within 1e-5, whether requests alternate adapter one by one
 * or arrive together and run as one mixed-adapter batch; refusals (tampered file, base mismatch, full
 * mode, missing base) are PredictErrors with their codes.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createNodePredictor, type NodePredictor } from '../../serving/node.ts';
import { PredictError } from '../../serving/predictor.ts';
import { softmax } from '../../serving/runtime.ts';
import { Registry } from '../../shared/registry/index.ts';
import { argmax } from '../../trainer/util/argmax.ts';
import { type ServingStore, servingStore, type TestAdapter, type Text, trainerLogits } from '../support/serving-store.ts';

let store: ServingStore;
let predictor: NodePredictor;
const published: Record<string, { adapter: TestAdapter; version: string }> = {};
const TEXTS: Text[] = ['good movie', 'a bad, bad film!', { text: 'is it fun?', text_pair: 'yes, very much so' }, 'x'.repeat(60)];

before(async () => {
  store = await servingStore('inference-node-');
  for (const [task, o] of [
    ['alpha', { mode: 'adapter', labels: 2, bottleneck: 4, seed: 1 }],
    ['beta', { mode: 'adapter', labels: 3, bottleneck: 6, layers: [1] as number[], trainLayernorms: false, seed: 2 }],
    ['gamma', { mode: 'head', labels: 2, seed: 3 }],
  ] as const) {
    const { adapter, manifest } = await store.publish({ task, ...o });
    published[task] = { adapter, version: manifest.version };
  }
  predictor = await createNodePredictor({ registry: store.registry, threads: 1, maxWaitMs: 0 }); // one request at a time: no window to wait for
});
after(async () => {
  await predictor?.close();
  rmSync(store.root, { recursive: true, force: true });
});

function assertClose(actual: number[], expected: Float32Array, what: string): void {
  const p = softmax(expected);
  assert.equal(actual.length, p.length, what);
  for (let i = 0; i < p.length; i++) assert.ok(Math.abs(actual[i] - p[i]) < 1e-5, `${what}[${i}]: ${actual[i]} vs ${p[i]}`);
}

async function expectTrainer(task: string, texts: Text[], got: { probs: Record<string, number>; label: string }[]) {
  const { adapter } = published[task];
  const ref = await trainerLogits(store, adapter, texts);
  got.forEach((g, i) => {
    assertClose(
      adapter.config.labels.map((l) => g.probs[l]),
      ref[i],
      `${task} input ${i}`,
    );
    const p = softmax(ref[i]);
    assert.equal(g.label, adapter.config.labels[argmax(p)]);
  });
}

test('adapters alternating request by request each give their own logits (= the trainer within 1e-5), newest version by default', async () => {
  for (const task of ['alpha', 'beta', 'gamma', 'alpha', 'beta', 'alpha']) {
    const res = await predictor.predict({ task, inputs: TEXTS });
    assert.equal(res.task, task);
    assert.equal(res.version, published[task].version);
    await expectTrainer(task, TEXTS, res.predictions);
  }
  // One session served them all (all share variant gelu/no pooler).
  assert.deepEqual([...predictor.engines.sessionCreateMs.keys()], ['tiny/gelu/pooler']);
});

test('concurrent requests for different adapters run as one mixed batch with the same logits', async () => {
  const tasks = ['alpha', 'beta', 'gamma', 'beta'];
  // The run starts when all 8 rows wait (maxBatchRows), not when a time window closes: however slowly the
  // requests reach the batcher on a loaded machine, they meet in one run. The wait is only a backstop.
  const p = await createNodePredictor({ registry: store.registry, threads: 1, maxBatchRows: 2 * tasks.length, maxWaitMs: 60_000 });
  try {
    const results = await Promise.all(tasks.map((task, i) => p.predict({ task, inputs: [TEXTS[i], TEXTS[(i + 1) % 4]] })));
    assert.deepEqual(
      p.batches().map(({ graph, rows, adapters }) => ({ graph, rows, adapters })),
      [{ graph: 'tiny/gelu/pooler', rows: 8, adapters: 3 }],
      'one run, mixing alpha, beta and gamma',
    );
    for (const [i, task] of tasks.entries()) await expectTrainer(task, [TEXTS[i], TEXTS[(i + 1) % 4]], results[i].predictions);
  } finally {
    await p.close();
  }
});

test('maxBatchRows bounds a run; a request larger than it is split', async () => {
  const p = await createNodePredictor({ registry: store.registry, threads: 1, maxBatchRows: 3, maxWaitMs: 0 });
  try {
    const texts = Array.from({ length: 7 }, (_, i) => `text ${i}`);
    const res = await p.predict({ task: 'alpha', inputs: texts });
    await expectTrainer('alpha', texts, res.predictions);
    assert.deepEqual(
      p.batches().map((b) => b.rows),
      [3, 3, 1],
    );
  } finally {
    await p.close();
  }
});

test('the cache evicts the least recently used adapters by bytes', async () => {
  const p = await createNodePredictor({ registry: store.registry, threads: 1, cacheBytes: 1 });
  try {
    await p.predict({ task: 'alpha', inputs: ['a'] });
    const alphaBytes = p.cache.bytes;
    assert.ok(alphaBytes > 0);
    await p.predict({ task: 'beta', inputs: ['a'] });
    assert.deepEqual(p.cache.keys, [`beta@${published.beta.version}`], 'over budget: only the newest stays');
  } finally {
    await p.close();
  }
  const q = await createNodePredictor({ registry: store.registry, threads: 1, cacheBytes: 10_000_000 });
  try {
    for (const task of ['alpha', 'beta', 'gamma', 'alpha']) await q.predict({ task, inputs: ['a'] });
    assert.deepEqual(
      q.cache.keys.map((k) => k.split('@')[0]),
      ['beta', 'gamma', 'alpha'],
      'most recently used last',
    );
    const budget = q.cache.bytes - 1; // one byte short of all three: the least recently used (beta) goes
    const r = await createNodePredictor({ registry: store.registry, threads: 1, cacheBytes: budget });
    try {
      for (const task of ['alpha', 'beta', 'gamma', 'alpha']) await r.predict({ task, inputs: ['a'] });
      assert.deepEqual(
        r.cache.keys.map((k) => k.split('@')[0]),
        ['gamma', 'alpha'],
      );
      assert.ok(r.cache.bytes <= budget);
    } finally {
      await r.close();
    }
  } finally {
    await q.close();
  }
});

async function rejectsWith(p: Promise<unknown>, code: string, pattern: RegExp, field?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PredictError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    if (field) assert.equal(e.field, field);
    return true;
  });
}

test('a stored file that does not match its manifest sha256 is refused', async () => {
  const { manifest } = await store.publish({ task: 'tampered', mode: 'adapter', labels: 2, seed: 9 });
  const file = join(store.root, 'store', 'adapters', 'tampered', manifest.version, 'adapter.safetensors');
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(file, bytes);
  const p = await createNodePredictor({ registry: store.registry, threads: 1 });
  try {
    await rejectsWith(p.predict({ task: 'tampered', inputs: ['a'] }), 'corrupt', /adapter\.safetensors does not match its manifest/);
    assert.deepEqual(p.cache.keys, []);
  } finally {
    await p.close();
  }
});

test('an adapter trained on other base weights, in full mode, or on a missing base is refused', async () => {
  const other = await store.publish({ task: 'other-base', mode: 'adapter', labels: 2, seed: 4 });
  // Its manifest and config name another sha256 for "tiny": rewrite both files and the manifest's hashes.
  const vdir = join(store.root, 'store', 'adapters', 'other-base', other.manifest.version);
  const { createHash } = await import('node:crypto');
  const fs = await import('node:fs');
  const cfgPath = join(vdir, 'adapter_config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.base.weightsSha256 = 'cd'.repeat(32);
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  const man = JSON.parse(fs.readFileSync(join(vdir, 'manifest.json'), 'utf8'));
  man.baseModel.weightsSha256 = 'cd'.repeat(32);
  const entry = man.files.find((f: { name: string }) => f.name === 'adapter_config.json');
  const body = fs.readFileSync(cfgPath);
  entry.sha256 = createHash('sha256').update(body).digest('hex');
  entry.bytes = body.length;
  fs.writeFileSync(join(vdir, 'manifest.json'), JSON.stringify(man));

  await store.publish({ task: 'full', mode: 'full', labels: 2, seed: 5 });
  const missing = await store.publish({ task: 'orphan', mode: 'adapter', labels: 2, seed: 6 });
  const mdir = join(store.root, 'store', 'adapters', 'orphan', missing.manifest.version);
  const mm = JSON.parse(fs.readFileSync(join(mdir, 'manifest.json'), 'utf8'));
  mm.baseModel.name = 'no-such-base';
  fs.writeFileSync(join(mdir, 'manifest.json'), JSON.stringify(mm));

  const p = await createNodePredictor({ registry: store.registry, threads: 1 });
  try {
    await rejectsWith(
      p.predict({ task: 'other-base', inputs: ['a'] }),
      'base-mismatch',
      /sha256 (cd){32}, but the store's base "tiny" has/,
    );
    await rejectsWith(p.predict({ task: 'full', inputs: ['a'] }), 'unsupported', /full mode/);
    await rejectsWith(
      p.predict({ task: 'orphan', inputs: ['a'] }),
      'base-missing',
      /"no-such-base" is not in the store \(s3:\/\/[^)]*\/models\/no-such-base\/\)/,
    );
    await rejectsWith(p.predict({ task: 'nope', inputs: ['a'] }), 'not-found', /no published adapter/, 'task');
    await rejectsWith(
      p.predict({ task: 'alpha', version: '20200101T000000000Z-0000000000000000', inputs: ['a'] }),
      'not-found',
      /no version/,
      'version',
    );
    await rejectsWith(p.predict({ task: 'alpha', version: 'v1', inputs: ['a'] }), 'invalid', /not a version id/, 'version');
    await rejectsWith(p.predict({ task: 'alpha', inputs: [] }), 'invalid', /non-empty/, 'inputs');
    await rejectsWith(
      p.predict({ task: 'alpha', inputs: [{ text: 3 } as unknown as string] }),
      'invalid',
      /text must be a string/,
      'inputs[0].text',
    );
    // Nothing of theirs was loaded; the others still serve.
    assert.equal((await p.predict({ task: 'alpha', inputs: ['ok'] })).predictions.length, 1);
  } finally {
    await p.close();
  }
  assert.ok(readdirSync(store.root).length > 0);
});

test('a manifest naming a base that is not a slug is refused before the name becomes a path', async () => {
  const { manifest } = await store.publish({ task: 'planted', mode: 'adapter', labels: 2, seed: 8 });
  const file = join(store.root, 'store', 'adapters', 'planted', manifest.version, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  m.baseModel.name = '../../..';
  writeFileSync(file, JSON.stringify(m));
  const asked: string[] = [];
  const p = await createNodePredictor({
    registry: new Registry(store.registry.store),
    threads: 1,
    baseDir: async (name) => {
      asked.push(name);
      return store.baseDir; // a real base: today's code would serve from it
    },
  });
  try {
    await rejectsWith(
      p.predict({ task: 'planted', inputs: ['a'] }),
      'corrupt',
      /names base model "\.\.\/\.\.\/\.\.", which is not a model name/,
    );
    assert.deepEqual(asked, [], 'no directory was asked for');
  } finally {
    await p.close();
  }
});
