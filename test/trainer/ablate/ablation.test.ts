/**
 * Layer ablation on the tiny BERT with a trained adapter: removing every layer's adapters gives exactly the
 * base-with-head logits — the same network with adapter_up zeroed, and, built independently, the training
 * code's graph of a spec with no adapter layers but the trained LayerNorms and head; removing nothing gives
 * the adapter's own metrics; the command writes ablation.json and a well-formed heat map with one cell per span.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readDataset } from '../../../shared/training-data/index.ts';
import { type AblationResult, AdapterAblation, layerSpans } from '../../../trainer/ablate/ablation.ts';
import { type ModelSpec, parameterSpecs, specFromAdapterConfig } from '../../../trainer/model/params.ts';
import { initialParameters } from '../../../trainer/model/weights.ts';
import { readAdapterDir } from '../../../trainer/model-files/adapter-dir.ts';
import { loadBaseModel } from '../../../trainer/model-files/base-model.ts';
import { ModelSessions } from '../../../trainer/sessions/model-sessions.ts';
import { collate } from '../../../trainer/train/batching.ts';
import { trainDefaults } from '../../../trainer/train/defaults.ts';
import { resolveLabels } from '../../../trainer/train/labels.ts';
import { evaluate, train } from '../../../trainer/train/trainer.ts';
import { Rng } from '../../../trainer/util/random.ts';
import { runTrainerCliSync } from '../../support/process.ts';
import { SvgChecker } from '../../support/svg.ts';
import { TOY_JSONL, writeTinyBert } from '../../support/tiny-bert.ts';

const work = mkdtempSync(join(tmpdir(), 'trainer-ablate-'));
const base = join(work, 'base');
const data = join(work, 'train.jsonl');
const adapterDir = join(work, 'adapter');
const LAYERS = 3;
let svg: SvgChecker;

before(async () => {
  writeTinyBert(base, { numLayers: LAYERS });
  writeFileSync(data, TOY_JSONL);
  await train({
    ...trainDefaults,
    base,
    data,
    validation: data,
    out: adapterDir,
    task: 'toy',
    bottleneck: 4,
    initStd: 0.1,
    lr: 3e-2,
    epochs: 3,
    batchSize: 8,
    dropout: 0,
    seeds: [1],
    device: 'cpu',
    log: () => {},
  });
  svg = await SvgChecker.launch();
});
after(() => svg.close());

async function rows() {
  const cfg = loadBaseModel(base).config;
  const { rows } = await readDataset(data, {
    vocabSize: cfg.vocab_size,
    maxPositions: cfg.max_position_embeddings,
    typeVocabSize: 2,
    requireLabels: true,
  });
  return { rows, labelIndex: resolveLabels(rows, ['neg', 'pos']).labelIndex };
}

test('removing every adapter gives exactly the base-with-head logits', async () => {
  const adapter = readAdapterDir(adapterDir);
  const baseModel = loadBaseModel(base);
  const { rows: all, labelIndex } = await rows();
  const batch = collate(all, labelIndex);
  const ablation = await AdapterAblation.open({ base, adapter: adapterDir, device: 'cpu' });
  ablation.setRemoved({ first: 0, last: LAYERS - 1 });
  const removed = Float32Array.from(await ablation.logits(batch));
  ablation.setRemoved(null);
  const kept = Float32Array.from(await ablation.logits(batch));
  await ablation.release();
  assert.ok(
    removed.some((v, i) => v !== kept[i]),
    'the trained adapters change the logits (else the test proves nothing)',
  );

  // 1. The same network, built afresh, with every adapter_up weight and bias zeroed.
  const spec = specFromAdapterConfig(adapter.config);
  const values = initialParameters(spec, parameterSpecs(spec), baseModel, new Rng(0), { task: 'toy', tensors: adapter.tensors });
  for (const [name, v] of values) if (name.includes('.adapter_up.')) v.fill(0);
  const zeroed = await ModelSessions.create(spec, values, { device: 'cpu', dropout: 0, seed: 0 }, false);
  assert.deepEqual(await zeroed.logits(batch), removed);
  await zeroed.release();

  // 2. Independently: a spec without adapter layers, given the trained LayerNorms and head.
  const plain: ModelSpec = { ...spec, adapter: { ...spec.adapter!, layers: [] } };
  const noAdapters = new Map([...adapter.tensors].filter(([name]) => !name.includes('.adapters.')));
  assert.ok([...noAdapters.keys()].some((n) => n.includes('LayerNorm')) && noAdapters.has('classifier.weight'));
  const plainValues = initialParameters(plain, parameterSpecs(plain), baseModel, new Rng(0), { task: 'toy', tensors: noAdapters });
  const reference = await ModelSessions.create(plain, plainValues, { device: 'cpu', dropout: 0, seed: 0 }, false);
  const expected = await reference.logits(batch);
  await reference.release();
  assert.deepEqual(removed, expected);
});

test('removing nothing gives the adapter its own metrics, also after spans were removed', async () => {
  const { rows: all, labelIndex } = await rows();
  const adapter = readAdapterDir(adapterDir);
  const spec = specFromAdapterConfig(adapter.config);
  const values = initialParameters(spec, parameterSpecs(spec), loadBaseModel(base), new Rng(0), { task: 'toy', tensors: adapter.tensors });
  const own = await ModelSessions.create(spec, values, { device: 'cpu', dropout: 0, seed: 0 }, false);
  const expected = await evaluate(own, all, labelIndex, 2, 8);
  await own.release();

  const ablation = await AdapterAblation.open({ base, adapter: adapterDir, device: 'cpu' });
  assert.deepEqual(await ablation.evaluate(all, labelIndex, 8), expected);
  for (const span of layerSpans(LAYERS)) ablation.setRemoved(span);
  ablation.setRemoved(null);
  assert.deepEqual(await ablation.evaluate(all, labelIndex, 8), expected, 'restored exactly');
  await ablation.release();
});

test('trainer ablate writes every span and a heat map with one cell per span', async () => {
  const out = join(work, 'ablation');
  const r = runTrainerCliSync(['ablate', '--base', base, '--adapter', adapterDir, '--data', data, '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(readFileSync(join(out, 'ablation.json'), 'utf8')) as AblationResult;
  assert.deepEqual(
    result.spans.map((s) => [s.first, s.last]),
    [
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 1],
      [1, 2],
      [2, 2],
    ],
  );
  assert.equal(result.unablated.value, result.unablated.accuracy);
  assert.equal(result.examples, 40);
  const heat = await svg.parse(readFileSync(join(out, 'ablation.svg'), 'utf8'), ['rect.cell', 'text']);
  assert.equal(heat.error, null);
  assert.equal(heat.root, 'svg');
  assert.equal(heat.counts['rect.cell'], (LAYERS * (LAYERS + 1)) / 2);
});
