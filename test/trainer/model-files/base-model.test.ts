import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { expectedBertWeights, loadBaseModel } from '../../../trainer/model-files/base-model.ts';
import { ModelFileError } from '../../../trainer/model-files/errors.ts';
import type { RandomBertOptions } from '../../../trainer/model-files/random-bert.ts';
import { writeRandomBert } from '../../../trainer/model-files/random-bert.ts';
import type { RawTensor } from '../../../trainer/model-files/safetensors.ts';
import { readSafetensors, writeSafetensorsRaw } from '../../../trainer/model-files/safetensors.ts';

const root = mkdtempSync(join(tmpdir(), 'base-model-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

// h=64, intermediate=128: the shapes the error-message examples use.
const opts: RandomBertOptions = {
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 4,
  intermediateSize: 128,
  maxPositions: 32,
  vocabSize: 40,
  seed: 11,
  layerNormNoise: 0.1,
};
const ref = join(root, 'ref');
before(() => writeRandomBert(ref, opts));

/** A copy of `ref` whose model.safetensors tensors went through `edit` (names as stored, `bert.`-less). */
function variant(name: string, edit: (t: Map<string, RawTensor>) => void): string {
  const dir = join(root, name);
  mkdirSync(dir);
  copyFileSync(join(ref, 'config.json'), join(dir, 'config.json'));
  const tensors = new Map(readSafetensors(join(ref, 'model.safetensors')).tensors);
  edit(tensors);
  writeSafetensorsRaw(join(dir, 'model.safetensors'), tensors);
  return dir;
}

const rejects = (dir: string, message: RegExp) =>
  assert.throws(
    () => loadBaseModel(dir),
    (e: unknown) => (e instanceof ModelFileError && message.test(e.message) ? true : assert.fail(String(e))),
  );

const f32 = (values: number[]): RawTensor => ({
  dtype: 'F32',
  shape: [values.length],
  bytes: new Uint8Array(new Float32Array(values).buffer),
});

test('loads every weight under canonical names, in canonical order, zero-copy', () => {
  const m = loadBaseModel(ref);
  const expected = [...expectedBertWeights(m.config).keys(), 'pooler.dense.weight', 'pooler.dense.bias'];
  assert.deepEqual([...m.weights.keys()], expected);
  assert.equal(expected.length, 5 + 16 * 2 + 2);
  assert.equal(m.hasPooler, true);
  assert.deepEqual(m.weights.get('encoder.layer.1.intermediate.dense.weight')!.shape, [128, 64]); // [out, in]
  assert.deepEqual(m.weights.get('embeddings.word_embeddings.weight')!.shape, [40, 64]);
  const bytes = readFileSync(join(ref, 'model.safetensors'));
  assert.equal(m.weightsSha256, createHash('sha256').update(bytes).digest('hex'));
  const buffers = new Set([...m.weights.values()].map((w) => w.data.buffer));
  assert.equal(buffers.size, 1, 'all F32 weights are views into one file buffer');
  const ln = m.weights.get('encoder.layer.0.output.LayerNorm.weight')!.data;
  assert.ok(ln.some((x) => x !== 1) && Math.abs(ln[0] - 1) < 0.5, 'LayerNorm weight near 1 with noise');
});

test('bert.-prefixed, F16 and BF16 checkpoints load to the same names and close values', () => {
  const base = loadBaseModel(ref);
  for (const [dtype, tol] of [
    ['F32', 0],
    ['F16', 2 ** -11],
    ['BF16', 2 ** -8],
  ] as const) {
    const dir = join(root, `prefixed-${dtype}`);
    writeRandomBert(dir, { ...opts, prefix: true, dtype });
    const m = loadBaseModel(dir);
    assert.deepEqual([...m.weights.keys()], [...base.weights.keys()], dtype);
    for (const [name, w] of m.weights) {
      const b = base.weights.get(name)!;
      assert.deepEqual(w.shape, b.shape);
      for (let i = 0; i < w.data.length; i++) {
        // Relative half-ulp, plus half an F16 subnormal step for tiny values.
        assert.ok(Math.abs(w.data[i] - b.data[i]) <= tol * Math.abs(b.data[i]) + 2 ** -25, `${dtype} ${name}[${i}]`);
      }
    }
  }
});

test('legacy gamma/beta names load; position_ids and the MLM head are ignored', () => {
  const dir = variant('legacy', (t) => {
    for (const name of [...t.keys()]) {
      const legacy = name.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta');
      if (legacy !== name) {
        t.set(`bert.${legacy}`, t.get(name)!);
        t.delete(name);
      }
    }
    t.set('embeddings.position_ids', { dtype: 'I64', shape: [1, 2], bytes: new Uint8Array(new BigInt64Array([0n, 1n]).buffer) });
    t.set('cls.predictions.bias', f32([1, 2, 3]));
    t.set('cls.predictions.transform.LayerNorm.gamma', f32([1]));
  });
  const m = loadBaseModel(dir);
  const base = loadBaseModel(ref);
  assert.deepEqual([...m.weights.keys()], [...base.weights.keys()]);
  assert.deepEqual(
    m.weights.get('encoder.layer.1.attention.output.LayerNorm.bias')!.data,
    base.weights.get('encoder.layer.1.attention.output.LayerNorm.bias')!.data,
  );
});

test('no pooler is fine; half a pooler is not', () => {
  const dir = join(root, 'nopooler');
  writeRandomBert(dir, { ...opts, pooler: false });
  const m = loadBaseModel(dir);
  assert.equal(m.hasPooler, false);
  assert.ok(!m.weights.has('pooler.dense.weight'));
  rejects(
    variant('halfpooler', (t) => t.delete('pooler.dense.bias')),
    /"pooler\.dense\.weight" is present without "pooler\.dense\.bias"/,
  );
});

test('a classifier in the checkpoint is kept and checked against id2label', () => {
  const dir = join(root, 'cls');
  writeRandomBert(dir, { ...opts, prefix: true, labels: ['neg', 'pos', 'neutral'] });
  const m = loadBaseModel(dir);
  assert.deepEqual(m.weights.get('classifier.weight')!.shape, [3, 64]);
  assert.deepEqual(m.weights.get('classifier.bias')!.shape, [3]);
  assert.deepEqual(m.config.id2label, { 0: 'neg', 1: 'pos', 2: 'neutral' });
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, id2label: { 0: 'neg', 1: 'pos' } }));
  rejects(dir, /tensor "classifier\.weight" has 3 rows but config\.json id2label names 2 labels/);
});

test('a missing tensor is named with its expected shape', () => {
  rejects(
    variant('missing', (t) => t.delete('encoder.layer.1.output.dense.weight')),
    /model\.safetensors: missing tensor "encoder\.layer\.1\.output\.dense\.weight" \(expected shape \[64, 128\]\)$/,
  );
  rejects(
    variant('missing2', (t) => {
      t.delete('encoder.layer.0.attention.self.key.bias');
      t.delete('embeddings.LayerNorm.weight');
    }),
    /missing tensor "embeddings\.LayerNorm\.weight" \(expected shape \[64\]\) and 1 more required tensor/,
  );
});

test('a wrong shape is named with expected and actual', () => {
  const dir = variant('shape', (t) => {
    const w = t.get('encoder.layer.0.attention.self.query.weight')!;
    t.set('encoder.layer.0.attention.self.query.weight', { ...w, shape: [32, 128] });
  });
  rejects(dir, /model\.safetensors: tensor "encoder\.layer\.0\.attention\.self\.query\.weight" has shape \[32, 128\], expected \[64, 64\]/);
  rejects(
    variant('vocab', (t) =>
      t.set('embeddings.word_embeddings.weight', { dtype: 'F32', shape: [41, 64], bytes: new Uint8Array(41 * 64 * 4) }),
    ),
    /tensor "embeddings\.word_embeddings\.weight" has shape \[41, 64\], expected \[40, 64\]/,
  );
});

test('two spellings of one tensor, and non-float dtypes, are refused', () => {
  rejects(
    variant('dup', (t) => t.set('bert.pooler.dense.bias', t.get('pooler.dense.bias')!)),
    /tensors "bert\.pooler\.dense\.bias" and "pooler\.dense\.bias" are both "pooler\.dense\.bias"/,
  );
  rejects(
    variant('int', (t) => t.set('embeddings.LayerNorm.bias', { dtype: 'I32', shape: [64], bytes: new Uint8Array(256) })),
    /model\.safetensors: tensor "embeddings\.LayerNorm\.bias" has dtype I32/,
  );
});

test('missing directory or model.safetensors', () => {
  rejects(join(root, 'nowhere'), /nowhere: base model directory not found/);
  const dir = join(root, 'onlyconfig');
  mkdirSync(dir);
  copyFileSync(join(ref, 'config.json'), join(dir, 'config.json'));
  rejects(dir, /onlyconfig\/model\.safetensors: file not found \(a base model directory needs config\.json and model\.safetensors\)/);
  writeFileSync(join(dir, 'pytorch_model.bin'), '');
  rejects(dir, /only pytorch_model\.bin is there/);
  const noConfig = join(root, 'noconfig');
  mkdirSync(noConfig);
  rejects(noConfig, /noconfig\/config\.json: file not found/);
});
