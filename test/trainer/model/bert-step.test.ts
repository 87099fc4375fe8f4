/**
 * The whole training step of a tiny BERT + adapters in float64, against central finite differences of
 * the loss: every trainable parameter's gradient, in each mode, with padding in the batch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrainMode } from '../../../shared/adapter-config.ts';
import type { BertConfig } from '../../../shared/bert-config.ts';
import { toOnnxModel } from '../../../trainer/graph/onnx-export.ts';
import { ATTENTION_MASK, buildBertGraph, gradName, INPUT_IDS, LABELS, TOKEN_TYPE_IDS } from '../../../trainer/model/bert.ts';
import type { ModelSpec } from '../../../trainer/model/params.ts';
import { createSession, hostTensor } from '../../../trainer/sessions/session.ts';
import { centralDifferences, relativeError } from '../../support/finite-differences.ts';
import { randomArray } from '../../support/gradcheck.ts';

const config: BertConfig = {
  vocab_size: 13,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 12,
  hidden_act: 'gelu',
  max_position_embeddings: 10,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
};

function spec(mode: TrainMode, nonlinearity: 'gelu' | 'relu' | 'swish' | 'tanh' = 'gelu'): ModelSpec {
  return {
    config,
    task: 'tiny',
    numLabels: 3,
    mode,
    usesPooler: true,
    adapter: { bottleneck: 3, nonlinearity, initStd: 0.5, layers: [0, 1] },
  };
}

// Two sequences of lengths 5 and 3 (padded): padding must neither leak into attention nor the loss.
const B = 2,
  S = 5;
const batch = {
  [INPUT_IDS]: hostTensor(BigInt64Array.from([1n, 5n, 7n, 2n, 9n, 1n, 12n, 3n, 0n, 0n]), [B, S]),
  [TOKEN_TYPE_IDS]: hostTensor(BigInt64Array.from([0n, 0n, 0n, 1n, 1n, 0n, 0n, 1n, 0n, 0n]), [B, S]),
  [ATTENTION_MASK]: hostTensor(Float64Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0]), [B, S]),
  [LABELS]: hostTensor(BigInt64Array.from([2n, 0n]), [B]),
};

async function checkStep(mode: TrainMode, nonlinearity: 'gelu' | 'relu' | 'swish' | 'tanh' = 'gelu', maxElementsPerParam = Infinity) {
  const built = buildBertGraph(spec(mode, nonlinearity), { floatType: 'float64', kernels: 'basic', training: true });
  const session = await createSession(toOnnxModel(built.graph), { optimization: 'basic' });
  const lossOnly = await createSession(toOnnxModel(built.graph, 'loss', [built.loss!]), { optimization: 'basic' });
  const feeds: Record<string, ReturnType<typeof hostTensor>> = { ...batch };
  const values = new Map<string, Float64Array>();
  built.specs.forEach((p, i) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = randomArray(n, 1000 + i, -0.6, 0.6);
    if (p.name.includes('LayerNorm.weight')) data.forEach((v, j) => (data[j] = 1 + v));
    values.set(p.name, data);
    feeds[p.name] = hostTensor(data, p.shape);
  });
  const out = await session.run(feeds);
  const names = built.specs.filter((s) => s.trainable).map((s) => s.name);
  assert.deepEqual([...built.grads.keys()].sort(), [...names].sort());
  let worst = 0;
  for (const name of names) {
    const ours = out[gradName(name)].data as Float64Array;
    const x = values.get(name)!;
    const stride = Math.max(1, Math.floor(x.length / maxElementsPerParam));
    // Floor 1e-3: the key bias has an exactly-zero gradient (softmax shift invariance), where the finite
    // difference is pure round-off (~1e-10) and a relative error means nothing.
    const fd = await centralDifferences(x, async () => (await lossOnly.run(feeds)).loss.data[0] as number, { h: 1e-6, stride });
    const error = relativeError(ours, fd, 1e-3);
    if (error > 1e-6) console.log(`# ${name}: ${error}`);
    worst = Math.max(worst, error);
  }
  console.log(`# ${mode}/${nonlinearity}: ${names.length} trainable tensors, max relative error ${worst.toExponential(2)}`);
  assert.ok(worst < 1e-6, `max relative error ${worst}`);
  return { names, out };
}

test('adapter mode: gradients of adapters, every LayerNorm and the classifier match finite differences', async () => {
  const { names } = await checkStep('adapter');
  assert.ok(names.some((n) => n.endsWith('adapters.tiny.adapter_down.0.weight')));
  assert.ok(names.includes('bert.embeddings.LayerNorm.weight'));
  assert.ok(!names.some((n) => n.includes('query') || n.includes('word_embeddings')), 'frozen weights must get no gradient');
});

for (const f of ['relu', 'swish', 'tanh'] as const) {
  test(`adapter mode with ${f} bottleneck`, async () => {
    await checkStep('adapter', f);
  });
}

test('head mode: only the classifier is trained', async () => {
  const { names } = await checkStep('head');
  assert.deepEqual(names.sort(), ['classifier.bias', 'classifier.weight']);
});

test('full mode: every weight, embeddings included', async () => {
  const { names } = await checkStep('full', 'gelu', 24);
  assert.ok(names.includes('bert.embeddings.word_embeddings.weight'));
  assert.ok(names.includes('bert.pooler.dense.weight'));
});
