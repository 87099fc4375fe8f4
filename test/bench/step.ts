/**
 * One training step (forward + backward + optimizer) of a BERT-base-shaped model with random weights,
 * timed in this process. Prints one JSON line. Run it through test/bench/step-compare.ts, which starts
 * one process per mode (so peak RSS is per mode) and puts the PyTorch peer beside it.
 *
 *   npx tsx test/bench/step.ts --mode adapter --batch 32 --seq 128 --steps 3 [--frozen inputs|initializers]
 */

import { availableParallelism } from 'node:os';
import type { TrainMode } from '../../shared/adapter-config.ts';
import type { BertConfig } from '../../shared/bert-config.ts';
import { type ModelSpec, parameterSpecs } from '../../trainer/model/params.ts';
import { type FrozenWeights, ModelSessions } from '../../trainer/sessions/model-sessions.ts';
import { AdamW } from '../../trainer/train/optimizer.ts';
import { Rng } from '../../trainer/util/random.ts';
import { benchArgs } from './support.ts';

const args = benchArgs({
  mode: 'adapter',
  batch: '32',
  seq: '128',
  steps: '3',
  layers: '12',
  bottleneck: '64',
  dropout: '0.1',
  threads: String(availableParallelism()),
  frozen: 'inputs',
});
if (args.frozen !== 'inputs' && args.frozen !== 'initializers')
  throw new Error(`--frozen must be inputs or initializers, got "${args.frozen}"`);
const mode = args.mode as TrainMode;
const [batchSize, seqLen, steps, layers] = [Number(args.batch), Number(args.seq), Number(args.steps), Number(args.layers)];

const config: BertConfig = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: layers,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
};
const spec: ModelSpec = {
  config,
  task: 'bench',
  numLabels: 2,
  mode,
  usesPooler: true,
  adapter: {
    bottleneck: Number(args.bottleneck),
    nonlinearity: 'gelu',
    initStd: 1e-3,
    layers: Array.from({ length: layers }, (_, i) => i),
  },
};
const rng = new Rng(1);
const values = new Map<string, Float32Array>();
for (const p of parameterSpecs(spec)) {
  const data = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = (rng.uniform() - 0.5) * 0.04;
  if (p.name.includes('LayerNorm.weight')) data.fill(1);
  values.set(p.name, data);
}
const creating = performance.now();
const sessions = await ModelSessions.create(spec, values, {
  device: 'cpu',
  dropout: Number(args.dropout),
  seed: 1,
  threads: Number(args.threads),
  frozenWeights: args.frozen as FrozenWeights,
});
const createSec = (performance.now() - creating) / 1000;
const trainable = parameterSpecs(spec).filter((p) => p.trainable);
const optimizer = new AdamW(
  trainable.map((p) => ({ name: p.name, data: values.get(p.name)! })),
  { lr: 1e-4, weightDecay: 0.01 },
);

const n = batchSize * seqLen;
const batch = {
  batchSize,
  seqLen,
  inputIds: BigInt64Array.from({ length: n }, () => BigInt(1 + rng.int(config.vocab_size - 1))),
  tokenTypeIds: new BigInt64Array(n),
  attentionMask: new Float32Array(n).fill(1),
  labels: BigInt64Array.from({ length: batchSize }, () => BigInt(rng.int(2))),
};

async function oneStep(): Promise<number> {
  const started = performance.now();
  const { grads } = await sessions.step(batch);
  optimizer.step(
    trainable.map((p) => grads.get(p.name)!),
    1e-4,
  );
  return (performance.now() - started) / 1000;
}

await oneStep(); // warm-up: first run plans memory and JITs nothing, but allocates arenas
const times: number[] = [];
for (let i = 0; i < steps; i++) times.push(await oneStep());
const sec = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]; // median, as the PyTorch peer reports
const trainableCount = trainable.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
console.log(
  JSON.stringify({
    impl: 'ours',
    mode,
    batch: batchSize,
    seq: seqLen,
    threads: Number(args.threads),
    layers,
    frozen: args.frozen,
    train_inputs: sessions.inputNames.train?.length,
    create_sec: createSec,
    sec_per_step: sec,
    steps_per_s: 1 / sec,
    step_secs: times,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    trainable_params: trainableCount,
  }),
);
await sessions.release();
