/**
 * DistilBERT on the family seam: its config names (dim, hidden_dim, n_layers, n_heads, activation) and refusals,
 * the names map through a written and reloaded checkpoint, adapters where AdapterHub puts them
 * (attention_adapters, output_adapters), no token types, the whole training step against finite differences, and
 * the paths not built for it refusing by name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { TrainMode } from '../../../../shared/adapter-config.ts';
import { toOnnxModel } from '../../../../trainer/graph/onnx-export.ts';
import { ATTENTION_MASK, buildBertGraph, INPUT_IDS, TOKEN_TYPE_IDS } from '../../../../trainer/model/bert.ts';
import { distilbertFamily } from '../../../../trainer/model/families/distilbert.ts';
import { requirePath } from '../../../../trainer/model/families/family.ts';
import { familyOf } from '../../../../trainer/model/families/registry.ts';
import { type ModelSpec, parameterSpecs } from '../../../../trainer/model/params.ts';
import { loadBaseModel } from '../../../../trainer/model-files/base-model.ts';
import { parseBertConfig } from '../../../../trainer/model-files/bert-config.ts';
import { writeRandomDistilbert } from '../../../../trainer/model-files/random-distilbert.ts';
import { readSafetensors, toFloat32 } from '../../../../trainer/model-files/safetensors.ts';
import { createSession, hostTensor } from '../../../../trainer/sessions/session.ts';
import { checkStepAgainstFiniteDifferences, stepSpec } from '../../../support/family-step-check.ts';
import { randomArray } from '../../../support/gradcheck.ts';

const root = mkdtempSync(join(tmpdir(), 'distilbert-family-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const RAW = {
  model_type: 'distilbert',
  vocab_size: 13,
  dim: 8,
  hidden_dim: 12,
  n_layers: 2,
  n_heads: 2,
  activation: 'gelu',
  max_position_embeddings: 9,
  sinusoidal_pos_embds: false,
};

test('config: DistilBERT names map onto the encoder fields; LayerNorm eps is 1e-12 as HF builds it', () => {
  const c = parseBertConfig({ ...RAW, layer_norm_eps: 1e-5 });
  assert.equal(familyOf(c), distilbertFamily);
  assert.deepEqual(
    [c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.num_attention_heads, c.layer_norm_eps],
    [8, 12, 2, 2, 1e-12],
  );
  assert.equal(parseBertConfig({ ...RAW, sinusoidal_pos_embds: undefined }).hidden_size, 8);
  // A sinusoidal table is a tensor of the checkpoint like a learned one: the names map is the same.
  assert.deepEqual(
    distilbertFamily.baseWeights(parseBertConfig({ ...RAW, sinusoidal_pos_embds: true })),
    distilbertFamily.baseWeights(parseBertConfig(RAW)),
  );
});

test('config errors name DistilBERT fields', () => {
  const { dim: _, ...noDim } = RAW;
  assert.throws(
    () => parseBertConfig(noDim, 'd/config.json'),
    (e: Error) => e.message === 'd/config.json: field "dim" must be a positive integer, got nothing (field absent)',
  );
  assert.throws(() => parseBertConfig({ ...RAW, n_layers: 0 }), /field "n_layers" must be a positive integer, got 0/);
  assert.throws(() => parseBertConfig({ ...RAW, hidden_dim: 1.5 }), /field "hidden_dim" must be a positive integer, got 1.5/);
  assert.throws(() => parseBertConfig({ ...RAW, n_heads: 3 }), /field "dim" \(8\) must be divisible by "n_heads" \(3\)/);
  assert.throws(
    () => parseBertConfig({ ...RAW, activation: 'relu' }),
    /field "activation" must be "gelu" \(the only activation the trainer implements\), got "relu"/,
  );
  assert.throws(
    () => parseBertConfig({ ...RAW, sinusoidal_pos_embds: 'yes' }),
    /field "sinusoidal_pos_embds" must be true or false, got "yes"/,
  );
});

test('names map: word + position embeddings (no token types), then q/k/v/out_lin, sa_layer_norm, ffn, output_layer_norm', () => {
  const names = [...distilbertFamily.baseWeights(parseBertConfig(RAW))];
  assert.deepEqual(names.slice(0, 4), [
    ['embeddings.word_embeddings.weight', [13, 8]],
    ['embeddings.position_embeddings.weight', [9, 8]],
    ['embeddings.LayerNorm.weight', [8]],
    ['embeddings.LayerNorm.bias', [8]],
  ]);
  assert.deepEqual(
    names.slice(4, 4 + 16).map(([n, s]) => `${n} ${s}`),
    [
      'transformer.layer.0.attention.q_lin.weight 8,8',
      'transformer.layer.0.attention.q_lin.bias 8',
      'transformer.layer.0.attention.k_lin.weight 8,8',
      'transformer.layer.0.attention.k_lin.bias 8',
      'transformer.layer.0.attention.v_lin.weight 8,8',
      'transformer.layer.0.attention.v_lin.bias 8',
      'transformer.layer.0.attention.out_lin.weight 8,8',
      'transformer.layer.0.attention.out_lin.bias 8',
      'transformer.layer.0.sa_layer_norm.weight 8',
      'transformer.layer.0.sa_layer_norm.bias 8',
      'transformer.layer.0.ffn.lin1.weight 12,8',
      'transformer.layer.0.ffn.lin1.bias 12',
      'transformer.layer.0.ffn.lin2.weight 8,12',
      'transformer.layer.0.ffn.lin2.bias 8',
      'transformer.layer.0.output_layer_norm.weight 8',
      'transformer.layer.0.output_layer_norm.bias 8',
    ],
  );
  assert.equal(names.length, 4 + 2 * 16);
});

test('a written checkpoint (prefixed or not) loads under canonical names; adapters and head under AdapterHub/HF names', () => {
  for (const prefix of [true, false]) {
    const dir = join(root, `base-${prefix}`);
    writeRandomDistilbert(dir, { dim: 8, numLayers: 2, numHeads: 2, hiddenDim: 12, vocabSize: 20, maxPositions: 10, seed: 4, prefix });
    const stored = readSafetensors(join(dir, 'model.safetensors')).tensors;
    const base = loadBaseModel(dir);
    assert.equal(base.config.model_type, 'distilbert');
    assert.equal(base.hasPooler, false);
    assert.equal(base.weights.size, stored.size);
    for (const [name, w] of base.weights) {
      const raw = stored.get(prefix ? `distilbert.${name}` : name);
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
    for (const p of specs.filter((s) => s.role === 'base')) assert.equal(p.name, `distilbert.${p.baseName}`);
    assert.deepEqual(
      specs.filter((s) => s.trainable && s.role === 'base').map((s) => s.baseName),
      [
        'embeddings.LayerNorm.weight',
        'embeddings.LayerNorm.bias',
        'transformer.layer.0.sa_layer_norm.weight',
        'transformer.layer.0.sa_layer_norm.bias',
        'transformer.layer.0.output_layer_norm.weight',
        'transformer.layer.0.output_layer_norm.bias',
        'transformer.layer.1.sa_layer_norm.weight',
        'transformer.layer.1.sa_layer_norm.bias',
        'transformer.layer.1.output_layer_norm.weight',
        'transformer.layer.1.output_layer_norm.bias',
      ],
    );
    const added = specs.filter((s) => s.baseName === null).map((s) => s.name);
    assert.deepEqual(added, [
      'distilbert.transformer.layer.1.attention_adapters.adapters.t.adapter_down.0.weight',
      'distilbert.transformer.layer.1.attention_adapters.adapters.t.adapter_down.0.bias',
      'distilbert.transformer.layer.1.attention_adapters.adapters.t.adapter_up.weight',
      'distilbert.transformer.layer.1.attention_adapters.adapters.t.adapter_up.bias',
      'distilbert.transformer.layer.1.output_adapters.adapters.t.adapter_down.0.weight',
      'distilbert.transformer.layer.1.output_adapters.adapters.t.adapter_down.0.bias',
      'distilbert.transformer.layer.1.output_adapters.adapters.t.adapter_up.weight',
      'distilbert.transformer.layer.1.output_adapters.adapters.t.adapter_up.bias',
      'pre_classifier.weight',
      'pre_classifier.bias',
      'classifier.weight',
      'classifier.bias',
    ]);
    // The adapters come after the layer's last tensor, as every file orders them.
    const names = specs.map((s) => s.name);
    assert.equal(names.indexOf(added[0]), names.indexOf('distilbert.transformer.layer.1.output_layer_norm.bias') + 1);
  }
});

const config = parseBertConfig(RAW);
const spec = (mode: TrainMode): ModelSpec => stepSpec(config, mode);
const batch = {
  inputIds: [
    [2, 5, 7, 3, 9, 11, 3],
    [2, 12, 4, 3, 0, 0, 0],
  ],
  tokenTypeIds: [
    [0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0, 0],
  ],
  labels: [2, 0],
};
const isLayerNormWeight = (n: string) => /(LayerNorm|_layer_norm)\.weight$/.test(n);

test('adapter mode: adapters, LayerNorms and the pre_classifier + ReLU + classifier head match finite differences', async () => {
  const { names, worst } = await checkStepAgainstFiniteDifferences(spec('adapter'), batch, isLayerNormWeight);
  console.log(`# distilbert adapter: ${names.length} trainable tensors, max relative error ${worst.toExponential(2)}`);
  assert.ok(names.includes('pre_classifier.weight') && names.includes('classifier.bias'));
  assert.ok(names.includes('distilbert.transformer.layer.1.sa_layer_norm.weight'));
  assert.ok(!names.some((n) => n.includes('q_lin') || n.includes('lin1')));
});

test('full mode: every weight', async () => {
  const { names, worst } = await checkStepAgainstFiniteDifferences(spec('full'), batch, isLayerNormWeight, 24);
  console.log(`# distilbert full: ${names.length} trainable tensors, max relative error ${worst.toExponential(2)}`);
  assert.equal(names.length, 4 + 2 * 16 + 4);
  assert.ok(names.includes('distilbert.embeddings.position_embeddings.weight'));
});

test('token_type_ids reach nothing: logits are the same whatever they hold', async () => {
  const built = buildBertGraph(spec('head'), { training: false });
  const session = await createSession(toOnnxModel(built.graph));
  const feeds: Record<string, ReturnType<typeof hostTensor>> = {
    [INPUT_IDS]: hostTensor(BigInt64Array.from(batch.inputIds.flat().map(BigInt)), [2, 7]),
    [ATTENTION_MASK]: hostTensor(Float32Array.from(batch.attentionMask.flat()), [2, 7]),
  };
  built.specs.forEach((p, i) => {
    feeds[p.name] = hostTensor(
      Float32Array.from(
        randomArray(
          p.shape.reduce((a, b) => a * b, 1),
          70 + i,
          -0.5,
          0.5,
        ),
      ),
      p.shape,
    );
  });
  const run = async (types: number) =>
    Array.from(
      (await session.run({ ...feeds, [TOKEN_TYPE_IDS]: hostTensor(new BigInt64Array(14).fill(BigInt(types)), [2, 7]) })).logits
        .data as Float32Array,
    );
  const zeros = await run(0);
  assert.ok(zeros.some((v) => v !== 0));
  assert.deepEqual(await run(1), zeros);
});

test('paths not built for DistilBERT are refused by name', () => {
  for (const path of ['export onnx', 'export --format adapterhub', 'serving', 'pretrain'] as const) {
    assert.throws(
      () => requirePath(distilbertFamily, path),
      (e: Error) => e.message === `${path} is not yet supported for distilbert (supported for it: train, eval, predict)`,
    );
  }
  for (const path of ['train', 'eval', 'predict'] as const) requirePath(distilbertFamily, path);
});
