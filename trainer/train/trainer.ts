/**
 * The training loop: load the frozen base, build the step and inference sessions, run batches,
 * step the optimizer over the trainable set only, evaluate, and write the adapter directory.
 */
import { basename } from 'node:path';
import type { AdapterConfig, AdapterNonlinearity, TrainMode } from '../../shared/adapter-config.ts';
import { assertWritableOutput, readAdapterDir, writeAdapterDir } from '../checkpoint/adapter-dir.ts';
import { loadBaseModel } from '../checkpoint/base-model.ts';
import { CheckpointError } from '../checkpoint/errors.ts';
import { parameterSpecs, parseLayerSet, type ModelSpec } from '../model/params.ts';
import { initialParameters } from '../model/weights.ts';
import { ModelSessions, type TokenBatch } from '../runtime/model-sessions.ts';
import type { Device } from '../runtime/session.ts';
import { Rng } from '../util/random.ts';
import { collate, makeBatches, readTokenizedJsonl, resolveLabels, type TokenizedRow } from './data.ts';
import { MetricsAccumulator, type EvalMetrics } from './metrics.ts';
import { AdamW, clipGradNorm, SGD, type Param } from './optimizer.ts';
import { learningRateAt, warmupStepsFor } from './schedule.ts';

export interface TrainOptions {
  base: string;
  data: string;
  validation?: string;
  out: string;
  task?: string;
  labels?: string[];
  mode: TrainMode;
  bottleneck: number;
  nonlinearity: AdapterNonlinearity;
  initStd: number;
  /** e.g. "0-11"; default every layer. */
  adapterLayers?: string;
  optimizer: 'adamw' | 'sgd';
  lr: number;
  weightDecay: number;
  batchSize: number;
  epochs: number;
  maxSteps?: number;
  schedule: 'linear' | 'constant';
  warmupRatio: number;
  maxGradNorm: number;
  dropout: number;
  seed: number;
  shuffle: boolean;
  initAdapter?: string;
  device: Device;
  threads?: number;
  /** Receives one structured event per step / evaluation / phase. */
  log: (event: Record<string, unknown>) => void;
}

export interface StepRecord {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
}

export interface TrainMetrics {
  task: string;
  mode: TrainMode;
  steps: StepRecord[];
  validation: (EvalMetrics & { step: number; epoch: number })[];
  parameters: { trainable: number; total: number; trainablePercent: number };
  examplesPerSecond: number;
  secondsPerStep: number;
  peakRssMb: number;
  trainExamples: number;
  labels: string[];
}

const TASK_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function toBatch(rows: readonly TokenizedRow[], labelIndex: ((row: TokenizedRow) => number) | null): TokenBatch {
  return collate([...rows], labelIndex ?? undefined);
}

export async function evaluate(sessions: ModelSessions, rows: readonly TokenizedRow[], labelIndex: (row: TokenizedRow) => number, numLabels: number, batchSize: number): Promise<EvalMetrics> {
  const acc = new MetricsAccumulator(numLabels);
  for (const idx of makeBatches(rows, batchSize, { shuffle: false })) {
    const batch = toBatch(idx.map((i) => rows[i]), labelIndex);
    acc.add(await sessions.logits(batch), batch.labels!);
  }
  return acc.result();
}

export async function train(opts: TrainOptions): Promise<{ metrics: TrainMetrics; config: AdapterConfig }> {
  assertWritableOutput(opts.out);
  const base = loadBaseModel(opts.base);
  const cfg = base.config;
  const warm = opts.initAdapter ? readAdapterDir(opts.initAdapter) : null;
  if (warm && warm.config.base.weightsSha256 !== base.weightsSha256) {
    throw new CheckpointError(
      `--init-adapter ${opts.initAdapter}: it was trained on a base whose model.safetensors has sha256 ${warm.config.base.weightsSha256}, but --base ${opts.base} has ${base.weightsSha256}`,
    );
  }
  const task = opts.task ?? warm?.config.task ?? basename(opts.data).replace(/\.[^.]*$/, '').toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  if (!TASK_NAME.test(task)) throw new Error(`--task: "${task}" must be 1-64 characters of a-z, 0-9, "_" or "-", starting with a letter or digit`);

  const dataOpts = { vocabSize: cfg.vocab_size, maxPositions: cfg.max_position_embeddings, typeVocabSize: cfg.type_vocab_size, requireLabels: true };
  const rows = await readTokenizedJsonl(opts.data, dataOpts);
  const { labels, labelIndex } = resolveLabels(rows, opts.labels ?? warm?.config.labels, opts.data);
  const validation = opts.validation ? await readTokenizedJsonl(opts.validation, dataOpts) : null;
  const validationLabels = validation ? resolveLabels(validation, labels, opts.validation) : null;

  const adapterOptions =
    opts.mode === 'adapter'
      ? {
          bottleneck: warm?.config.adapter?.bottleneck ?? opts.bottleneck,
          nonlinearity: warm?.config.adapter?.nonlinearity ?? opts.nonlinearity,
          initStd: warm?.config.adapter?.initStd ?? opts.initStd,
          layers: warm?.config.adapter?.layers ?? parseLayerSet(opts.adapterLayers ?? `0-${cfg.num_hidden_layers - 1}`, cfg.num_hidden_layers),
        }
      : null;
  const spec: ModelSpec = { config: cfg, task, numLabels: labels.length, mode: opts.mode, adapter: adapterOptions, usesPooler: base.hasPooler };
  const specs = parameterSpecs(spec);
  const rng = new Rng(opts.seed);
  const values = initialParameters(spec, specs, base, rng, warm ? { task: warm.config.task, tensors: warm.tensors } : undefined);
  const trainableSpecs = specs.filter((p) => p.trainable);
  const count = (list: typeof specs) => list.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  const parameters = { trainable: count(trainableSpecs), total: count(specs) };

  const sessions = await ModelSessions.create(spec, values, { device: opts.device, dropout: opts.dropout, seed: opts.seed, threads: opts.threads });
  const params: Param[] = trainableSpecs.map((p) => ({ name: p.name, data: values.get(p.name)! }));
  const optimizer = opts.optimizer === 'adamw' ? new AdamW(params, { lr: opts.lr, weightDecay: opts.weightDecay }) : new SGD(params, { lr: opts.lr, weightDecay: opts.weightDecay });

  const stepsPerEpoch = Math.ceil(rows.length / opts.batchSize);
  const totalSteps = opts.maxSteps !== undefined ? Math.min(opts.maxSteps, stepsPerEpoch * opts.epochs) : stepsPerEpoch * opts.epochs;
  const warmupSteps = warmupStepsFor(opts.warmupRatio, totalSteps);
  opts.log({ event: 'start', task, mode: opts.mode, examples: rows.length, labels, totalSteps, ...parameters });

  const steps: StepRecord[] = [];
  const evals: TrainMetrics['validation'] = [];
  let step = 0;
  let timedExamples = 0;
  let timedSeconds = 0;
  for (let epoch = 1; epoch <= opts.epochs && step < totalSteps; epoch++) {
    for (const idx of makeBatches(rows, opts.batchSize, { shuffle: opts.shuffle, rng })) {
      if (step >= totalSteps) break;
      const started = performance.now();
      const batch = toBatch(idx.map((i) => rows[i]), labelIndex);
      const lr = learningRateAt(step, { base: opts.lr, totalSteps, warmupSteps, kind: opts.schedule });
      const { loss, grads } = await sessions.step(batch);
      if (!Number.isFinite(loss)) throw new Error(`training diverged: loss is ${loss} at step ${step + 1} (lower --lr?)`);
      const gradList = params.map((p) => grads.get(p.name)!);
      const gradNorm = clipGradNorm(gradList, opts.maxGradNorm);
      optimizer.step(gradList, lr);
      const seconds = (performance.now() - started) / 1000;
      step++;
      // The first step pays for session warm-up; steady-state throughput leaves it out (unless it is the only one).
      if (step > 1 || totalSteps === 1) {
        timedExamples += batch.batchSize;
        timedSeconds += seconds;
      }
      steps.push({ step, epoch, loss, lr, gradNorm });
      opts.log({ event: 'step', step, totalSteps, epoch, loss, lr, gradNorm, seconds });
    }
    if (validation && validationLabels) {
      const m = await evaluate(sessions, validation, validationLabels.labelIndex, labels.length, opts.batchSize);
      evals.push({ ...m, step, epoch });
      opts.log({ event: 'validation', step, epoch, ...m });
    }
  }

  const config: AdapterConfig = {
    format: 'adapter-store.adapter/v1',
    task,
    mode: opts.mode,
    adapter: adapterOptions,
    labels,
    maxSeqLen: Math.max(warm?.config.maxSeqLen ?? 0, rows.reduce((m, r) => Math.max(m, r.inputIds.length), 0)),
    dropout: opts.dropout,
    base: { config: cfg, weightsSha256: base.weightsSha256, usesPooler: base.hasPooler, name: basename(opts.base) },
    parameters,
    createdAt: new Date().toISOString(),
    pythonAdapters: adapterOptions
      ? {
          architecture: 'bottleneck',
          mh_adapter: true,
          output_adapter: true,
          reduction_factor: cfg.hidden_size / adapterOptions.bottleneck,
          non_linearity: adapterOptions.nonlinearity,
          leave_out: Array.from({ length: cfg.num_hidden_layers }, (_, l) => l).filter((l) => !adapterOptions.layers.includes(l)),
        }
      : null,
  };
  const metrics: TrainMetrics = {
    task,
    mode: opts.mode,
    steps,
    validation: evals,
    parameters: { ...parameters, trainablePercent: (100 * parameters.trainable) / parameters.total },
    examplesPerSecond: timedSeconds > 0 ? timedExamples / timedSeconds : 0,
    secondsPerStep: timedSeconds / Math.max(1, steps.length - 1),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    trainExamples: rows.length,
    labels,
  };
  const tensors = new Map(trainableSpecs.map((p) => [p.name, { shape: p.shape, data: values.get(p.name)! }]));
  writeAdapterDir(opts.out, { config, tensors }, metrics);
  await sessions.release();
  opts.log({ event: 'done', out: opts.out, steps: step, examplesPerSecond: metrics.examplesPerSecond, peakRssMb: metrics.peakRssMb });
  return { metrics, config };
}
