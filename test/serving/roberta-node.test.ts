/**
 * The Node runtime on a RoBERTa base (byte-level BPE from vocab.json + merges.txt, RoBERTa's position ids and
 * its dense + out_proj head per adapter): each adapter's probabilities equal the trainer's own inference
 * (ModelSessions over buildBertGraph, the `trainer predict` path) within 1e-5, through the one-adapter graph
 * (a request alone) and the stacked graph (a mixed-adapter batch).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { createNodePredictor, type NodePredictor } from '../../serving/node.ts';
import { softmax } from '../../serving/runtime.ts';
import { Registry } from '../../shared/registry/index.ts';
import { familyOf } from '../../trainer/model/families/registry.ts';
import { parameterSpecs, specFromAdapterConfig } from '../../trainer/model/params.ts';
import { initialParameters } from '../../trainer/model/weights.ts';
import { type BaseModel, loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { writeRandomRoberta } from '../../trainer/model-files/random-roberta.ts';
import { ModelSessions } from '../../trainer/sessions/model-sessions.ts';
import { loadFamilyTextEncoder } from '../../trainer/tokenizer/base-tokenizer.ts';
import { collate } from '../../trainer/train/batching.ts';
import { Rng } from '../../trainer/util/random.ts';
import { publishRandomAdapter, type TestAdapter, type Text } from '../support/serving-store.ts';

// 'Ġ' is a space's byte-level form; every text below is spelled in these letters.
const VOCAB = ['<s>', '<pad>', '</s>', '<unk>', 'h', 'e', 'l', 'o', 'Ġ', 'w', 'r', 'd', 'he', 'll', 'hell', 'hello', 'Ġw', 'Ġwo', '<mask>'];
const MERGES = '#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ w\nĠw o\n';
const TEXTS: Text[] = ['hello world', 'held', { text: 'hell', text_pair: 'old world' }, 'he who rode her hero low'.repeat(3)];
const MAX = 20;

const root = mkdtempSync(join(tmpdir(), 'roberta-node-'));
const baseDir = join(root, 'rb');
const registry = Registry.fromUri(pathToFileURL(join(root, 'store')).href);
let base: BaseModel;
let predictor: NodePredictor;
const adapters: Record<string, TestAdapter> = {};

before(async () => {
  writeRandomRoberta(baseDir, {
    hiddenSize: 16,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 24,
    vocabSize: 40,
    maxSeqLen: MAX,
    seed: 7,
    pooler: true,
    layerNormNoise: 0.2,
  });
  writeFileSync(join(baseDir, 'vocab.json'), JSON.stringify(Object.fromEntries(VOCAB.map((t, i) => [t, i]))));
  writeFileSync(join(baseDir, 'merges.txt'), MERGES);
  await registry.models.upload('rb', baseDir, ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']);
  base = loadBaseModel(baseDir);
  let n = 0;
  for (const [task, o] of [
    ['alpha', { mode: 'adapter', labels: 2, bottleneck: 4, seed: 1 }],
    ['beta', { mode: 'adapter', labels: 3, bottleneck: 6, layers: [1] as number[], trainLayernorms: false, seed: 2 }],
    ['gamma', { mode: 'head', labels: 2, seed: 3 }],
  ] as const) {
    const { adapter } = await publishRandomAdapter(registry, 'rb', base, join(root, `adapter-${n++}`), { task, ...o }, MAX);
    adapters[task] = adapter;
  }
  predictor = await createNodePredictor({ registry, threads: 1, maxWaitMs: 0 });
});
after(async () => {
  await predictor?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Logits per text as `trainer predict` computes them: the family tokenizer, collate and ModelSessions. */
async function trainerLogits(a: TestAdapter, texts: Text[]): Promise<Float32Array[]> {
  const spec = specFromAdapterConfig(a.config);
  const shapes = new Map(parameterSpecs(spec).map((p) => [p.name, p.shape]));
  const tensors = new Map([...a.tensors].map(([k, v]) => [k, { shape: shapes.get(k)!, data: v }]));
  const values = initialParameters(spec, parameterSpecs(spec), base, new Rng(0), { task: a.config.task, tensors });
  const sessions = await ModelSessions.create(spec, values, { device: 'cpu', dropout: 0, seed: 0, threads: 1 }, false);
  const tok = await loadFamilyTextEncoder(baseDir, familyOf(base.config), a.config.maxSeqLen);
  const rows = texts.map((t) => {
    const e = typeof t === 'string' ? tok.encode(t) : tok.encode(t.text, t.text_pair);
    return { inputIds: Int32Array.from(e.inputIds), tokenTypeIds: Int32Array.from(e.tokenTypeIds), label: null, line: 0 };
  });
  const L = a.config.labels.length;
  const logits = await sessions.logits(collate(rows));
  await sessions.release();
  return texts.map((_, i) => logits.slice(i * L, (i + 1) * L));
}

async function expectTrainer(task: string, texts: Text[], got: { probs: Record<string, number> }[]): Promise<number> {
  const a = adapters[task];
  const ref = await trainerLogits(a, texts);
  let worst = 0;
  got.forEach((g, i) => {
    const p = softmax(ref[i]);
    a.config.labels.forEach((l, k) => {
      worst = Math.max(worst, Math.abs(g.probs[l] - p[k]));
    });
  });
  assert.ok(worst < 1e-5, `${task}: worst probability difference ${worst}`);
  return worst;
}

test('the RoBERTa head has its four per-task tensors in every adapter (the packing reads them all)', () => {
  for (const a of Object.values(adapters))
    for (const n of ['classifier.dense.weight', 'classifier.dense.bias', 'classifier.out_proj.weight', 'classifier.out_proj.bias'])
      assert.ok(a.tensors.has(n), `${a.config.task}: ${n}`);
});

test("one adapter at a time (the one-adapter graph): each adapter's probabilities equal the trainer's within 1e-5", async () => {
  let worst = 0;
  for (const task of ['alpha', 'beta', 'gamma', 'alpha']) {
    const res = await predictor.predict({ task, inputs: TEXTS });
    worst = Math.max(worst, await expectTrainer(task, TEXTS, res.predictions));
  }
  process.stdout.write(`# one-adapter graph vs trainer: worst |probability diff| ${worst.toExponential(2)}\n`);
  const stats = await predictor.engines.workerStats();
  assert.ok(stats.oneAdapterRuns >= 4, `one-adapter runs: ${stats.oneAdapterRuns}`);
  assert.equal(stats.stackedRuns, 0);
  // Probabilities differ across rows, so equality above says something about each row.
  const res = await predictor.predict({ task: 'alpha', inputs: TEXTS });
  assert.ok(new Set(res.predictions.map((p) => p.probs.l0.toFixed(6))).size > 1);
});

test('concurrent requests for different adapters run as one mixed batch (the stacked graph) with the same probabilities', async () => {
  const tasks = ['alpha', 'beta', 'gamma', 'beta'];
  const p = await createNodePredictor({ registry, threads: 1, maxBatchRows: 2 * tasks.length, maxWaitMs: 60_000 });
  try {
    const results = await Promise.all(tasks.map((task, i) => p.predict({ task, inputs: [TEXTS[i], TEXTS[(i + 1) % 4]] })));
    assert.deepEqual(
      p.batches().map(({ rows, adapters: n }) => ({ rows, adapters: n })),
      [{ rows: 8, adapters: 3 }],
      'one run, mixing alpha, beta and gamma',
    );
    assert.equal((await p.engines.workerStats()).stackedRuns, 1);
    let worst = 0;
    for (const [i, task] of tasks.entries())
      worst = Math.max(worst, await expectTrainer(task, [TEXTS[i], TEXTS[(i + 1) % 4]], results[i].predictions));
    process.stdout.write(`# mixed batch vs trainer: worst |probability diff| ${worst.toExponential(2)}\n`);
  } finally {
    await p.close();
  }
});
