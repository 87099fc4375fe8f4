/**
 * ELECTRA on the family seam: its config (embedding_size), the names map through a written and reloaded
 * checkpoint (embeddings_project present only when the embeddings are narrower), adapters at BERT's two sites
 * under `electra.`, the whole training step against finite differences, and the paths not built for it refusing
 * by name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { TrainMode } from '../../../../shared/adapter-config.ts';
import type { BertConfig } from '../../../../shared/bert-config.ts';
import { electraFamily } from '../../../../trainer/model/families/electra.ts';
import { requirePath } from '../../../../trainer/model/families/family.ts';
import { familyOf } from '../../../../trainer/model/families/registry.ts';
import { type ModelSpec, parameterSpecs } from '../../../../trainer/model/params.ts';
import { loadBaseModel } from '../../../../trainer/model-files/base-model.ts';
import { parseBertConfig } from '../../../../trainer/model-files/bert-config.ts';
import { writeRandomElectra } from '../../../../trainer/model-files/random-electra.ts';
import { readSafetensors, toFloat32 } from '../../../../trainer/model-files/safetensors.ts';
import { checkStepAgainstFiniteDifferences, stepSpec } from '../../../support/family-step-check.ts';

const root = mkdtempSync(join(tmpdir(), 'electra-family-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const RAW = {
  model_type: 'electra',
  vocab_size: 13,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 12,
  hidden_act: 'gelu',
  max_position_embeddings: 9,
  type_vocab_size: 2,
};

test('config: embedding_size is read, defaults to ElectraConfig 128, and must be a positive integer', () => {
  assert.equal(parseBertConfig({ ...RAW, embedding_size: 6 }).embedding_size, 6);
  assert.equal(parseBertConfig(RAW).embedding_size, 128);
  assert.equal(familyOf(parseBertConfig(RAW)), electraFamily);
  assert.throws(
    () => parseBertConfig({ ...RAW, embedding_size: 0 }, 'e/config.json'),
    (e: Error) => e.message === 'e/config.json: field "embedding_size" must be a positive integer, got 0',
  );
  assert.throws(() => parseBertConfig({ ...RAW, embedding_size: '6' }), /field "embedding_size" must be a positive integer, got "6"/);
  assert.throws(() => parseBertConfig({ ...RAW, hidden_act: 'gelu_new' }), /field "hidden_act" must be "gelu"/);
});

test('names map: embeddings embedding_size wide, embeddings_project only when it differs from hidden_size', () => {
  const narrow = electraFamily.baseWeights(parseBertConfig({ ...RAW, embedding_size: 6 }));
  assert.deepEqual([...narrow].slice(0, 7), [
    ['embeddings.word_embeddings.weight', [13, 6]],
    ['embeddings.position_embeddings.weight', [9, 6]],
    ['embeddings.token_type_embeddings.weight', [2, 6]],
    ['embeddings.LayerNorm.weight', [6]],
    ['embeddings.LayerNorm.bias', [6]],
    ['embeddings_project.weight', [8, 6]],
    ['embeddings_project.bias', [8]],
  ]);
  assert.deepEqual(narrow.get('encoder.layer.1.output.LayerNorm.bias'), [8]);
  const same = electraFamily.baseWeights(parseBertConfig({ ...RAW, embedding_size: 8 }));
  assert.ok(!same.has('embeddings_project.weight'));
  assert.equal(same.size, narrow.size - 2);
  assert.equal(electraFamily.layout(parseBertConfig({ ...RAW, embedding_size: 8 })).embeddingProject, null);
});

test('a written checkpoint (prefixed or not) loads under canonical names; the graph reads them as electra.*', () => {
  for (const prefix of [true, false]) {
    const dir = join(root, `base-${prefix}`);
    writeRandomElectra(dir, {
      hiddenSize: 8,
      embeddingSize: 6,
      numLayers: 2,
      numHeads: 2,
      intermediateSize: 12,
      vocabSize: 20,
      maxPositions: 10,
      seed: 3,
      prefix,
    });
    const stored = readSafetensors(join(dir, 'model.safetensors')).tensors;
    const base = loadBaseModel(dir);
    assert.equal(base.config.model_type, 'electra');
    assert.equal(base.config.embedding_size, 6);
    assert.equal(base.hasPooler, false);
    assert.equal(base.weights.size, stored.size);
    assert.deepEqual(base.weights.get('embeddings_project.weight')?.shape, [8, 6]);
    for (const [name, w] of base.weights) {
      const raw = stored.get(prefix ? `electra.${name}` : name);
      assert.ok(raw, `${name} is in the file`);
      assert.deepEqual(w.data, toFloat32(raw, name));
    }
    const specs = parameterSpecs({
      config: base.config,
      task: 't',
      numLabels: 3,
      mode: 'adapter',
      usesPooler: base.hasPooler,
      adapter: { bottleneck: 2, nonlinearity: 'gelu', initStd: 1e-3, layers: [1] },
    });
    for (const p of specs.filter((s) => s.role === 'base')) assert.equal(p.name, `electra.${p.baseName}`);
    assert.deepEqual(
      specs.filter((s) => s.trainable && s.role === 'base').map((s) => s.baseName),
      [...base.weights.keys()].filter((n) => n.includes('LayerNorm')),
      'adapter mode trains every LayerNorm, not embeddings_project',
    );
    assert.deepEqual(
      specs.filter((s) => s.baseName === null).map((s) => s.name),
      [
        'electra.encoder.layer.1.attention.output.adapters.t.adapter_down.0.weight',
        'electra.encoder.layer.1.attention.output.adapters.t.adapter_down.0.bias',
        'electra.encoder.layer.1.attention.output.adapters.t.adapter_up.weight',
        'electra.encoder.layer.1.attention.output.adapters.t.adapter_up.bias',
        'electra.encoder.layer.1.output.adapters.t.adapter_down.0.weight',
        'electra.encoder.layer.1.output.adapters.t.adapter_down.0.bias',
        'electra.encoder.layer.1.output.adapters.t.adapter_up.weight',
        'electra.encoder.layer.1.output.adapters.t.adapter_up.bias',
        'classifier.dense.weight',
        'classifier.dense.bias',
        'classifier.out_proj.weight',
        'classifier.out_proj.bias',
      ],
    );
  }
});

const config: BertConfig = parseBertConfig({ ...RAW, embedding_size: 6 });
const spec = (mode: TrainMode): ModelSpec => stepSpec(config, mode);
// A pair ([CLS] a [SEP] b [SEP], token types 0/1) and a padded single.
const batch = {
  inputIds: [
    [2, 5, 7, 3, 9, 11, 3],
    [2, 12, 4, 3, 0, 0, 0],
  ],
  tokenTypeIds: [
    [0, 0, 0, 0, 1, 1, 1],
    [0, 0, 0, 0, 0, 0, 0],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0, 0],
  ],
  labels: [2, 0],
};
const isLayerNormWeight = (n: string) => n.includes('LayerNorm.weight');

test('adapter mode: adapters, LayerNorms and the dense + GELU + out_proj head match finite differences', async () => {
  const { names, worst } = await checkStepAgainstFiniteDifferences(spec('adapter'), batch, isLayerNormWeight);
  console.log(`# electra adapter: ${names.length} trainable tensors, max relative error ${worst.toExponential(2)}`);
  assert.ok(names.includes('classifier.dense.weight') && names.includes('classifier.out_proj.bias'));
  assert.ok(names.includes('electra.embeddings.LayerNorm.weight'));
  assert.ok(!names.some((n) => n.includes('embeddings_project') || n.includes('query') || n.includes('pooler')));
});

test('full mode: every weight, embeddings_project included', async () => {
  const { names, worst } = await checkStepAgainstFiniteDifferences(spec('full'), batch, isLayerNormWeight, 24);
  console.log(`# electra full: ${names.length} trainable tensors, max relative error ${worst.toExponential(2)}`);
  assert.ok(names.includes('electra.embeddings_project.weight') && names.includes('electra.embeddings_project.bias'));
  assert.ok(names.includes('electra.embeddings.token_type_embeddings.weight'));
});

test('paths not built for ELECTRA are refused by name', () => {
  for (const path of ['export onnx', 'export --format adapterhub', 'serving', 'pretrain'] as const) {
    assert.throws(
      () => requirePath(electraFamily, path),
      (e: Error) => e.message === `${path} is not yet supported for electra (supported for it: train, eval, predict)`,
    );
  }
  for (const path of ['train', 'eval', 'predict'] as const) requirePath(electraFamily, path);
});
