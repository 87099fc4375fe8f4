/**
 * RoBERTa on the family seam: position ids (HF's create_position_ids_from_input_ids, by hand), the names map
 * through a written and reloaded checkpoint, the whole training step against finite differences, and the
 * paths not built for it refusing by name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { TrainMode } from '../../../../shared/adapter-config.ts';
import type { BertConfig } from '../../../../shared/bert-config.ts';
import { Graph } from '../../../../trainer/graph/graph.ts';
import { toOnnxModel } from '../../../../trainer/graph/onnx-export.ts';
import * as op from '../../../../trainer/graph/ops.ts';
import { paddingOffsetPositions } from '../../../../trainer/model/families/roberta.ts';
import { type ModelSpec, parameterSpecs } from '../../../../trainer/model/params.ts';
import { buildServingGraph } from '../../../../trainer/model/serving-graph.ts';
import { loadBaseModel } from '../../../../trainer/model-files/base-model.ts';
import { ROBERTA_PAD, writeRandomRoberta } from '../../../../trainer/model-files/random-roberta.ts';
import { readSafetensors, toFloat32 } from '../../../../trainer/model-files/safetensors.ts';
import { createSession, hostTensor } from '../../../../trainer/sessions/session.ts';
import { checkStepAgainstFiniteDifferences, type StepBatch, stepSpec } from '../../../support/family-step-check.ts';

const root = mkdtempSync(join(tmpdir(), 'roberta-family-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

const config: BertConfig = {
  model_type: 'roberta',
  pad_token_id: ROBERTA_PAD,
  vocab_size: 13,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 12,
  hidden_act: 'gelu',
  max_position_embeddings: 9,
  type_vocab_size: 1,
  layer_norm_eps: 1e-5,
};

test('position ids: padding_idx + 1 onward over real tokens, padding_idx on pads', async () => {
  const g = new Graph('float32');
  const ids = g.input('ids', 'int64', ['B', 'S']);
  const seqLen = op.element(op.shapeOf(ids), 1);
  g.defineDim('S', op.reshape(seqLen, [1]));
  g.output(paddingOffsetPositions({ inputIds: ids, seqLen, config: { ...config, pad_token_id: 1 } }), 'positions');
  const session = await createSession(toOnnxModel(g));
  // <s> a b </s> <pad> <pad> | <s> a </s></s> b </s> (a pair) | a pad in the middle keeps padding_idx too.
  const input = [0, 5, 6, 2, 1, 1, 0, 7, 2, 2, 8, 2, 0, 5, 1, 6, 2, 1];
  const out = await session.run({ ids: hostTensor(BigInt64Array.from(input.map(BigInt)), [3, 6]) });
  assert.deepEqual(Array.from(out.positions.data as BigInt64Array, Number), [2, 3, 4, 5, 1, 1, 2, 3, 4, 5, 6, 7, 2, 3, 1, 4, 5, 1]);
  assert.deepEqual(out.positions.dims, [3, 6]);
});

test('names map: a written checkpoint (prefixed or not, with a pooler) loads under canonical names, and the graph reads them as roberta.*', () => {
  for (const prefix of [true, false]) {
    const dir = join(root, `base-${prefix}`);
    writeRandomRoberta(dir, {
      hiddenSize: 8,
      numLayers: 2,
      numHeads: 2,
      intermediateSize: 12,
      vocabSize: 20,
      maxSeqLen: 6,
      seed: 3,
      prefix,
      pooler: true,
    });
    const stored = readSafetensors(join(dir, 'model.safetensors')).tensors;
    const base = loadBaseModel(dir);
    assert.equal(base.config.model_type, 'roberta');
    assert.equal(base.hasPooler, false, 'RobertaClassificationHead reads no pooler');
    assert.ok(!base.weights.has('pooler.dense.weight'));
    assert.equal(base.weights.size, stored.size - 2);
    for (const [name, w] of base.weights) {
      const raw = stored.get(prefix ? `roberta.${name}` : name);
      assert.ok(raw, `${name} is in the file`);
      assert.deepEqual(w.data, toFloat32(raw, name));
    }
    const spec: ModelSpec = {
      config: base.config,
      task: 't',
      numLabels: 3,
      mode: 'adapter',
      usesPooler: base.hasPooler,
      adapter: { bottleneck: 2, nonlinearity: 'gelu', initStd: 1e-3, layers: [1] },
    };
    const specs = parameterSpecs(spec);
    for (const p of specs.filter((s) => s.role === 'base')) assert.equal(p.name, `roberta.${p.baseName}`);
    assert.deepEqual(
      specs.filter((s) => s.baseName === null).map((s) => s.name),
      [
        'roberta.encoder.layer.1.attention.output.adapters.t.adapter_down.0.weight',
        'roberta.encoder.layer.1.attention.output.adapters.t.adapter_down.0.bias',
        'roberta.encoder.layer.1.attention.output.adapters.t.adapter_up.weight',
        'roberta.encoder.layer.1.attention.output.adapters.t.adapter_up.bias',
        'roberta.encoder.layer.1.output.adapters.t.adapter_down.0.weight',
        'roberta.encoder.layer.1.output.adapters.t.adapter_down.0.bias',
        'roberta.encoder.layer.1.output.adapters.t.adapter_up.weight',
        'roberta.encoder.layer.1.output.adapters.t.adapter_up.bias',
        'classifier.dense.weight',
        'classifier.dense.bias',
        'classifier.out_proj.weight',
        'classifier.out_proj.bias',
      ],
    );
  }
});

const spec = (mode: TrainMode): ModelSpec => stepSpec(config, mode);

// A pair with </s></s> and a single padded with <pad> = 1: 7 positions need the whole table (1 + 1 + 7 = 9).
const S = 7;
const batch: StepBatch = {
  inputIds: [
    [0, 5, 7, 2, 2, 9, 2],
    [0, 12, 3, 2, 1, 1, 1],
  ],
  tokenTypeIds: [Array(S).fill(0), Array(S).fill(0)],
  attentionMask: [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0, 0],
  ],
  labels: [2, 0],
};

async function checkStep(mode: TrainMode, maxElementsPerParam = Infinity): Promise<string[]> {
  const isLayerNormWeight = (name: string) => name.includes('LayerNorm.weight');
  const { names, worst } = await checkStepAgainstFiniteDifferences(spec(mode), batch, isLayerNormWeight, maxElementsPerParam);
  console.log(`# roberta ${mode}: ${names.length} trainable tensors, max relative error ${worst.toExponential(2)}`);
  return names;
}

test('adapter mode: adapters, LayerNorms and the dense + out_proj head match finite differences', async () => {
  const names = await checkStep('adapter');
  assert.ok(names.includes('classifier.dense.weight') && names.includes('classifier.out_proj.bias'));
  assert.ok(names.includes('roberta.embeddings.LayerNorm.weight'));
  assert.ok(!names.some((n) => n.includes('pooler') || n.includes('query')));
});

test('full mode: every weight, position and token-type embeddings included', async () => {
  const names = await checkStep('full', 24);
  assert.ok(names.includes('roberta.embeddings.position_embeddings.weight'));
  assert.ok(names.includes('roberta.embeddings.token_type_embeddings.weight'));
});

test("the serving graph takes RoBERTa's names: roberta.* frozen weights, no pooler, the head's dense and out_proj per task", () => {
  const { graph, frozen } = buildServingGraph(config, { nonlinearity: 'gelu', usesPooler: true });
  const names = frozen.map((p) => p.name);
  assert.ok(names.includes('roberta.embeddings.position_embeddings.weight'));
  assert.ok(!names.some((n) => !n.startsWith('roberta.') || n.includes('pooler') || n.includes('LayerNorm')), names.join(', '));
  const inputs = graph.inputs.map((t) => t.name);
  for (const n of [
    'task.classifier.dense.weight',
    'task.classifier.out_proj.bias',
    'task.roberta.encoder.layer.0.output.adapter_up.weight',
  ])
    assert.ok(inputs.includes(n), n);
});
