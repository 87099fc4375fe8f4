/**
 * The serving graph against the training code's own inference graph (buildBertGraph, training: false,
 * through ModelSessions): a batch mixing three adapters of different shapes gives, row by row, the logits
 * each adapter gives alone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { toOnnxModel } from '../../../trainer/graph/onnx-export.ts';
import { parameterSpecs, specFromAdapterConfig } from '../../../trainer/model/params.ts';
import { ADAPTER_INDEX, buildServingGraph, packAdapters, type ServingVariant, stackPacked } from '../../../trainer/model/serving-graph.ts';
import { initialParameters } from '../../../trainer/model/weights.ts';
import { type BaseModel, loadBaseModel } from '../../../trainer/model-files/base-model.ts';
import { ModelSessions, type TokenBatch } from '../../../trainer/sessions/model-sessions.ts';
import { createSession, hostTensor, type ort } from '../../../trainer/sessions/session.ts';
import { Rng } from '../../../trainer/util/random.ts';
import { randomAdapter } from '../../support/random-adapter.ts';
import { writeTinyBert } from '../../support/tiny-bert.ts';

let dir: string;
let base: BaseModel;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'serving-graph-'));
  writeTinyBert(dir, { layerNormNoise: 0.2 });
  base = loadBaseModel(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

type Adapter = ReturnType<typeof randomAdapter>;

/** 6 rows of different lengths (padding on the right), as the trainer batches them. */
function batch(): TokenBatch {
  const lens = [7, 3, 5, 7, 1, 4];
  const S = 7;
  const rng = new Rng(5);
  const inputIds = new BigInt64Array(lens.length * S);
  const tokenTypeIds = new BigInt64Array(lens.length * S);
  const attentionMask = new Float32Array(lens.length * S);
  lens.forEach((n, r) => {
    for (let t = 0; t < n; t++) {
      inputIds[r * S + t] = BigInt(1 + rng.int(199));
      tokenTypeIds[r * S + t] = BigInt(t >= 3 ? 1 : 0);
      attentionMask[r * S + t] = 1;
    }
  });
  return { batchSize: lens.length, seqLen: S, inputIds, tokenTypeIds, attentionMask, labels: null };
}

async function referenceLogits(a: Adapter, b: TokenBatch): Promise<Float32Array> {
  const spec = specFromAdapterConfig(a.config);
  const tensors = new Map([...a.tensors].map(([k, v]) => [k, { shape: [v.length], data: v }]));
  // The warm start checks shapes: give each tensor its spec's shape.
  const shapes = new Map(parameterSpecs(spec).map((p) => [p.name, p.shape]));
  for (const [k, t] of tensors) t.shape = shapes.get(k)!;
  const values = initialParameters(spec, parameterSpecs(spec), base, new Rng(0), { task: a.config.task, tensors });
  const s = await ModelSessions.create(spec, values, { device: 'cpu', dropout: 0, seed: 0, threads: 1 }, false);
  const out = await s.logits(b);
  await s.release();
  return out;
}

async function servingLogits(variant: ServingVariant, adapters: Adapter[], index: number[], b: TokenBatch) {
  const { graph, frozen } = buildServingGraph(base.config, variant);
  const session = await createSession(toOnnxModel(graph, 'serving'), { threads: 1 });
  const feeds: Record<string, ort.Tensor> = {};
  for (const p of frozen) feeds[p.name] = hostTensor(base.weights.get(p.baseName!)!.data, p.shape);
  const baseValues = new Map([...base.weights].map(([k, w]) => [k, w.data]));
  for (const [k, t] of Object.entries(packAdapters(baseValues, base.config, adapters))) feeds[k] = hostTensor(t.data, t.dims);
  const dims = [b.batchSize, b.seqLen];
  feeds.input_ids = hostTensor(b.inputIds, dims);
  feeds.token_type_ids = hostTensor(b.tokenTypeIds, dims);
  feeds.attention_mask = hostTensor(
    BigInt64Array.from(b.attentionMask, (m) => BigInt(m)),
    dims,
  );
  feeds[ADAPTER_INDEX] = hostTensor(BigInt64Array.from(index, BigInt), [index.length]);
  const out = await session.run(feeds);
  await session.release();
  return { logits: out.logits.data as Float32Array, labels: out.logits.dims[1] };
}

async function assertRowsMatch(variant: ServingVariant, adapters: Adapter[], index: number[]) {
  const b = batch();
  const { logits, labels: L } = await servingLogits(variant, adapters, index, b);
  assert.equal(L, Math.max(...adapters.map((a) => a.config.labels.length)));
  const refs = await Promise.all(adapters.map((a) => referenceLogits(a, b)));
  let worst = 0;
  index.forEach((u, r) => {
    const n = adapters[u].config.labels.length;
    for (let k = 0; k < n; k++) {
      const want = refs[u][r * n + k];
      const got = logits[r * L + k];
      worst = Math.max(worst, Math.abs(got - want));
      assert.ok(Math.abs(got - want) <= 1e-5, `row ${r} (adapter ${u}) logit ${k}: serving ${got}, reference ${want}`);
    }
    for (let k = n; k < L; k++) assert.equal(logits[r * L + k], 0, `row ${r}: padded logit ${k} must be 0`);
  });
  // The adapters must differ, or the comparison would not show that rows get their own adapter.
  assert.ok(Math.abs(refs[0][0] - refs[1][0]) > 1e-2, 'adapters 0 and 1 give near-identical logits: the test shows nothing');
  return worst;
}

test('a batch mixing adapters gives each row its own adapter’s logits (adapter modes, head mode, pooler)', async () => {
  const a = randomAdapter(base, { task: 'a', mode: 'adapter', labels: 2, bottleneck: 3, trainLayernorms: true, seed: 1 });
  const b = randomAdapter(base, { task: 'b', mode: 'adapter', labels: 3, bottleneck: 5, layers: [1], trainLayernorms: false, seed: 2 });
  const h = randomAdapter(base, { task: 'h', mode: 'head', labels: 4, seed: 3 });
  await assertRowsMatch({ nonlinearity: 'gelu', usesPooler: true }, [a, b, h], [0, 1, 2, 1, 0, 2]);
});

test('without the pooler and with another nonlinearity; one adapter alone (U = 1)', async () => {
  const opts = { mode: 'adapter' as const, nonlinearity: 'swish' as const, usesPooler: false };
  const a = randomAdapter(base, { ...opts, task: 'a', labels: 2, bottleneck: 2, layers: [0], seed: 4 });
  const b = randomAdapter(base, { ...opts, task: 'b', labels: 2, bottleneck: 6, seed: 5 });
  await assertRowsMatch({ nonlinearity: 'swish', usesPooler: false }, [a, b], [1, 1, 0, 0, 1, 0]);
  const b6 = batch();
  const alone = await servingLogits({ nonlinearity: 'swish', usesPooler: false }, [b], [0, 0, 0, 0, 0, 0], b6);
  const ref = await referenceLogits(b, b6);
  for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(alone.logits[i] - ref[i]) <= 1e-5);
});

test('packAdapters refuses a full-mode adapter and a missing head', () => {
  const values = new Map([...base.weights].map(([k, w]) => [k, w.data]));
  const full = randomAdapter(base, { task: 'f', mode: 'full', labels: 2, seed: 6 });
  assert.throws(() => packAdapters(values, base.config, [full]), /full mode.*cannot share a base/);
  const a = randomAdapter(base, { task: 'a', mode: 'adapter', labels: 2, seed: 7 });
  a.tensors.delete('classifier.bias');
  assert.throws(() => packAdapters(values, base.config, [a]), /adapter "a" has no classifier/);
  assert.throws(() => packAdapters(values, base.config, []), /no adapters/);
});

test('stackPacked of adapters packed one by one equals packAdapters of them together, padding included', () => {
  const values = new Map([...base.weights].map(([k, w]) => [k, w.data]));
  const adapters = [
    randomAdapter(base, { task: 'a', mode: 'adapter', labels: 2, bottleneck: 3, trainLayernorms: true, seed: 8 }),
    randomAdapter(base, { task: 'b', mode: 'adapter', labels: 3, bottleneck: 5, layers: [1], trainLayernorms: false, seed: 9 }),
    randomAdapter(base, { task: 'h', mode: 'head', labels: 4, seed: 10 }),
  ];
  const together = packAdapters(values, base.config, adapters);
  const stacked = stackPacked(adapters.map((a) => packAdapters(values, base.config, [a])));
  assert.deepEqual(Object.keys(stacked).sort(), Object.keys(together).sort());
  for (const [name, t] of Object.entries(together)) {
    assert.deepEqual(stacked[name].dims, t.dims, name);
    assert.deepEqual(stacked[name].data, t.data, name);
  }
  assert.throws(() => stackPacked([]), /nothing to stack/);
  assert.throws(() => stackPacked([together]), /no single-adapter tensor/);
});
