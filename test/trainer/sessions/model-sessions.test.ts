/**
 * Frozen weights as initializers (the CUDA shape) against frozen weights as inputs (the CPU design), on
 * the CPU: the same loss, every gradient and the logits, bit for bit; and what each session takes as inputs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TrainMode } from '../../../shared/adapter-config.ts';
import { ATTENTION_MASK, INPUT_IDS, LABELS, TOKEN_TYPE_IDS } from '../../../trainer/model/bert.ts';
import { type ModelSpec, parameterSpecs } from '../../../trainer/model/params.ts';
import {
  CPU_FROZEN_WEIGHTS,
  type FrozenWeights,
  frozenWeightsFor,
  ModelSessions,
  type TokenBatch,
} from '../../../trainer/sessions/model-sessions.ts';
import { Rng } from '../../../trainer/util/random.ts';

function spec(mode: TrainMode): ModelSpec {
  return {
    config: {
      vocab_size: 30,
      hidden_size: 16,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 24,
      hidden_act: 'gelu',
      max_position_embeddings: 12,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
    },
    task: 'frozen',
    numLabels: 3,
    mode,
    usesPooler: true,
    adapter: { bottleneck: 4, nonlinearity: 'gelu', initStd: 0.1, layers: [0, 1] },
  };
}

function values(s: ModelSpec): Map<string, Float32Array> {
  const rng = new Rng(5);
  return new Map(
    parameterSpecs(s).map((p) => [p.name, Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.2)]),
  );
}

// The second row is padded: padding runs through both variants too.
const batch: TokenBatch = {
  batchSize: 2,
  seqLen: 6,
  inputIds: BigInt64Array.from([2n, 7n, 9n, 4n, 11n, 3n, 2n, 5n, 8n, 3n, 0n, 0n]),
  tokenTypeIds: BigInt64Array.from([0n, 0n, 0n, 1n, 1n, 1n, 0n, 0n, 1n, 1n, 0n, 0n]),
  attentionMask: Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]),
  labels: BigInt64Array.from([2n, 0n]),
};

const BATCH = [INPUT_IDS, TOKEN_TYPE_IDS, ATTENTION_MASK, LABELS];

async function run(mode: TrainMode, frozenWeights: FrozenWeights) {
  const s = spec(mode);
  const sessions = await ModelSessions.create(s, values(s), { device: 'cpu', dropout: 0, seed: 0, threads: 1, frozenWeights });
  try {
    const { loss, grads } = await sessions.step(batch);
    const logits = await sessions.logits(batch);
    return { loss, grads, logits, inputs: sessions.inputNames, frozenWeights: sessions.frozenWeights };
  } finally {
    await sessions.release();
  }
}

for (const mode of ['adapter', 'head', 'full'] as const) {
  test(`${mode} mode: frozen weights as initializers give the same loss, every gradient and the logits as inputs`, async () => {
    const inputs = await run(mode, 'inputs');
    const baked = await run(mode, 'initializers');
    assert.equal(baked.frozenWeights, 'initializers');
    assert.ok(Number.isFinite(inputs.loss) && inputs.loss > 0);
    assert.equal(baked.loss, inputs.loss);
    const trainable = parameterSpecs(spec(mode)).filter((p) => p.trainable);
    assert.deepEqual(
      [...baked.grads.keys()],
      trainable.map((p) => p.name),
    );
    for (const p of trainable) {
      assert.ok(
        inputs.grads.get(p.name)!.some((g) => g !== 0),
        `${p.name}: a zero gradient compares nothing`,
      );
      assert.deepEqual(baked.grads.get(p.name), inputs.grads.get(p.name), p.name);
    }
    assert.deepEqual(baked.logits, inputs.logits);
  });
}

test('the initializer variant takes only the batch and the trainable parameters; the input variant every parameter', async () => {
  const s = spec('adapter');
  const specs = parameterSpecs(s);
  const trainable = specs.filter((p) => p.trainable).map((p) => p.name);
  const baked = await run('adapter', 'initializers');
  assert.deepEqual(baked.inputs.train, [...BATCH, ...trainable]);
  assert.deepEqual(baked.inputs.infer, [...BATCH.filter((n) => n !== LABELS), ...trainable]);
  const fed = await run('adapter', 'inputs');
  assert.deepEqual(fed.inputs.train, [...BATCH, ...specs.map((p) => p.name)]);
  assert.ok(specs.length > trainable.length + 20, 'the base is frozen here: the two lists must differ');
});

test('baked frozen weights are read once, at creation; trainable ones on every run', async () => {
  const s = spec('adapter');
  const word = 'bert.embeddings.word_embeddings.weight';
  const adapterUp = 'bert.encoder.layer.0.output.adapters.frozen.adapter_up.weight';
  for (const frozenWeights of ['inputs', 'initializers'] as const) {
    const v = values(s);
    const sessions = await ModelSessions.create(s, v, { device: 'cpu', dropout: 0, seed: 0, threads: 1, frozenWeights }, false);
    const before = await sessions.logits(batch);
    v.get(word)!.fill(0.5);
    const afterFrozen = await sessions.logits(batch);
    v.get(adapterUp)!.fill(0.5);
    const afterTrainable = await sessions.logits(batch);
    await sessions.release();
    if (frozenWeights === 'initializers') assert.deepEqual(afterFrozen, before);
    else assert.notDeepEqual(afterFrozen, before);
    assert.notDeepEqual(afterTrainable, afterFrozen);
  }
});

test('CUDA always bakes the frozen weights; the CPU default is the measured one and either may be asked for', () => {
  assert.equal(frozenWeightsFor('cuda'), 'initializers');
  assert.equal(frozenWeightsFor('cuda', 'initializers'), 'initializers');
  assert.throws(() => frozenWeightsFor('cuda', 'inputs'), /on --device cuda frozen weights are initializers/);
  assert.equal(frozenWeightsFor('cpu'), CPU_FROZEN_WEIGHTS);
  assert.equal(frozenWeightsFor('cpu', 'initializers'), 'initializers');
  assert.equal(frozenWeightsFor('cpu', 'inputs'), 'inputs');
});
