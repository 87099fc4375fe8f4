/**
 * `trainLayernorms: false` end to end through its entry points: the API schema accepts it, a job spec
 * hands it to the trainer, and the model then trains no LayerNorm (adapters and head only).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HyperparametersSchema } from '../../../functions/schemas.ts';
import type { JobSpec } from '../../../shared/job.ts';
import { trainOptionsFromSpec } from '../../../trainer/jobs/run-job.ts';
import { type ModelSpec, parameterSpecs } from '../../../trainer/model/params.ts';

const config = {
  vocab_size: 30,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 16,
  max_position_embeddings: 16,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  hidden_act: 'gelu',
} as ModelSpec['config'];
const spec = (trainLayernorms?: boolean): ModelSpec => ({
  config,
  task: 't',
  numLabels: 2,
  mode: 'adapter',
  usesPooler: true,
  adapter: {
    bottleneck: 2,
    nonlinearity: 'gelu',
    initStd: 1e-3,
    layers: [0, 1],
    ...(trainLayernorms === undefined ? {} : { trainLayernorms }),
  },
});
const trainable = (s: ModelSpec) =>
  parameterSpecs(s)
    .filter((p) => p.trainable)
    .map((p) => p.name);

test('frozen LayerNorms: the trainable set is the adapters and the head only', () => {
  const frozen = trainable(spec(false));
  assert.ok(!frozen.some((n) => n.includes('LayerNorm')), frozen.join());
  assert.equal(frozen.filter((n) => n.includes('.adapters.')).length, 2 * 2 * 4);
  assert.ok(frozen.includes('classifier.weight'));
  // Absent (older adapter_config.json files) and true both train all 2 + 2 x 2 LayerNorms.
  for (const s of [spec(), spec(true)]) assert.equal(trainable(s).filter((n) => n.includes('LayerNorm')).length, 2 * (1 + 2 * 2));
});

test('the API hyperparameter reaches the trainer options; a non-boolean is refused', () => {
  assert.equal(HyperparametersSchema.parse({ trainLayernorms: false }).trainLayernorms, false);
  assert.equal(HyperparametersSchema.safeParse({ trainLayernorms: 'no' }).success, false);
  const job = (h: JobSpec['hyperparameters']): JobSpec => ({
    format: 'adapter-store.job/v1',
    jobId: 'j',
    task: 't',
    datasetUri: 's3://b/k',
    baseModel: 'm',
    hyperparameters: h,
    createdAt: '',
  });
  const paths = { base: 'b', data: 'd', out: 'o', checkpointDir: 'c' };
  assert.equal(trainOptionsFromSpec(job({ trainLayernorms: false }), paths).trainLayernorms, false);
  assert.equal(trainOptionsFromSpec(job({}), paths).trainLayernorms, true);
});
