/**
 * The training loop: load the frozen base, build the step and inference sessions, run length-bucketed
 * batches, step the optimizer over the trainable set only, evaluate every N steps and at epoch ends,
 * stop early, keep the best parameters, repeat per seed, and write the best adapter directory.
 */
import { basename, join } from 'node:path';
import type { AdapterConfig, AdapterNonlinearity, HoulsbyAdapterOptions, TrainMode } from '../../shared/adapter-config.ts';
import { type BelowMajority, belowMajority, type MajorityBaseline } from '../../shared/majority-baseline.ts';
import type { EvalRecord, SelectionMetric, TrainerEvent } from '../../shared/trainer-events.ts';
import {
  DataError,
  DataLimitError,
  type DatasetFormat,
  readDataset,
  type SkippedRow,
  type TokenizedRow,
} from '../../shared/training-data/index.ts';
import type { LrSchedule, OptimizerName } from '../../shared/vocabulary.ts';
import { familyOf } from '../model/families/registry.ts';
import { type ModelSpec, type ParamSpec, parameterSpecs, parseLayerSet } from '../model/params.ts';
import { initialParameters } from '../model/weights.ts';
import { type AdapterDir, assertWritableOutput, readAdapterDir, writeAdapterDir } from '../model-files/adapter-dir.ts';
import { type BaseModel, loadBaseModel } from '../model-files/base-model.ts';
import { ModelFileError } from '../model-files/errors.ts';
import { ModelSessions } from '../sessions/model-sessions.ts';
import type { Device } from '../sessions/session.ts';
import { loadBaseTokenizer } from '../tokenizer/base-tokenizer.ts';
import { specOf } from '../util/fingerprint.ts';
import { Rng } from '../util/random.ts';
import { bucketedBatches, collate, makeBatches } from './batching.ts';
import { DEFAULT_MAX_SEQ_LEN } from './defaults.ts';
import { resolveLabels } from './labels.ts';
import { majorityBaseline } from './majority.ts';
import { type EvalMetrics, isBetter, MetricsAccumulator, metricValue } from './metrics.ts';
import { AdamW, clipGradNorm, type Param, SGD } from './optimizer.ts';
import {
  type CheckpointTensors,
  type RunPosition,
  readCheckpoint,
  type SeedResult,
  type StepRecord,
  TornCheckpointError,
  writeCheckpoint,
} from './resume-state.ts';
import { fingerprintDifferences, type RunFingerprint, rowsSha256, tensorsSha256 } from './run-fingerprint.ts';
import { learningRateAt, warmupStepsFor } from './schedule.ts';
import { splitValidation } from './validation-split.ts';

export interface TrainOptions {
  base: string;
  data: string;
  validation?: string;
  /** Hold out this fraction of the training rows (seeded) when no validation file is given. */
  validationSplit?: number;
  /** How to read --data / --validation: format (default: from the name) and column / field names. */
  format?: DatasetFormat;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  /** Skip and count up to this many bad rows instead of failing on the first. */
  maxBadRows?: number;
  out: string;
  task?: string;
  labels?: string[];
  mode: TrainMode;
  bottleneck: number;
  nonlinearity: AdapterNonlinearity;
  /** Text rows are tokenized to at most this many tokens ([CLS] and [SEP] included); default 128, capped by the base. */
  maxSeqLen?: number;
  initStd: number;
  /** Adapter mode: train the LayerNorms too (default) or freeze them at the base's values. */
  trainLayernorms?: boolean;
  /** e.g. "0-11"; default every layer. */
  adapterLayers?: string;
  optimizer: OptimizerName;
  lr: number;
  weightDecay: number;
  batchSize: number;
  epochs: number;
  maxSteps?: number;
  schedule: LrSchedule;
  warmupRatio: number;
  maxGradNorm: number;
  dropout: number;
  /** One run per seed; with several, the best on validation is the one written. */
  seeds: number[];
  shuffle: boolean;
  /** Sort rows by length within shuffled chunks so batches pad little (needs shuffle). */
  bucketing: boolean;
  /** Pad every batch to this length instead of its own longest row (the fixed-padding baseline; 0 = dynamic). */
  padTo?: number;
  /** Evaluate every N steps as well as at epoch ends (0: epoch ends only). */
  evalSteps: number;
  /**
   * Validation rows at most (jobs: trainDefaults' MAX_VALIDATION_ROWS, which the job budget counts): a
   * validation file with more is refused, a split holds out no more. Unset: no limit (the CLI).
   */
  maxValidationRows?: number;
  metric: SelectionMetric;
  /** Stop a seed after this many evaluations without improvement (0: never). */
  earlyStoppingPatience: number;
  initAdapter?: string;
  device: Device;
  threads?: number;
  /** Save a resumable checkpoint every N steps (0: never) into `checkpointDir`. */
  checkpointEvery: number;
  checkpointDir?: string;
  /** Continue from `checkpointDir` when it holds a checkpoint (and start fresh when it does not). */
  resume: boolean;
  /** Receives one typed event per step / evaluation / phase. */
  log: (event: TrainerEvent) => void;
  /**
   * Called once each checkpoint is complete in `dir`/`folder` and the pointer names it (run-job copies it
   * to the registry so a retry on another host continues). The folder is never rewritten, but the next
   * checkpoint deletes it: a copy made later must hold its own links to the files.
   */
  onCheckpoint?: (checkpoint: { dir: string; folder: string; step: number }) => void;
  /** Called after every optimizer step and its checkpoint; tests use it to stop a run at an exact step. */
  onStep?: (step: number) => void;
}

export interface TrainMetrics {
  task: string;
  mode: TrainMode;
  metric: SelectionMetric;
  selectedSeed: number;
  /** The selected seed's per-step records and evaluations. */
  steps: StepRecord[];
  validation: EvalRecord[];
  best: EvalRecord | null;
  seeds: { seed: number; best: EvalRecord | null; steps: number; stoppedEarly: boolean; finalLoss: number | null }[];
  parameters: { trainable: number; total: number; trainablePercent: number };
  examplesPerSecond: number;
  secondsPerStep: number;
  peakRssMb: number;
  trainExamples: number;
  validationExamples: number;
  /** Bad rows skipped under --max-bad-rows (count and the first few reasons). */
  skippedRows: { train: number; validation: number; first: SkippedRow[] };
  labels: string[];
  /** What always answering the most frequent validation label scores (null without validation data). */
  majority: MajorityBaseline | null;
  /** Set when the selected checkpoint does not beat `majority` on the selection metric (the guardrail). */
  belowMajority: BelowMajority | null;
}

const TASK_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Everything the seeds share: base, data, labels, model spec. */
interface Prepared {
  base: BaseModel;
  warm: AdapterDir | null;
  task: string;
  rows: TokenizedRow[];
  lengths: Int32Array;
  validation: TokenizedRow[] | null;
  labels: string[];
  labelIndex: (row: TokenizedRow) => number;
  spec: ModelSpec;
  specs: ParamSpec[];
  trainable: ParamSpec[];
  totalSteps: number;
  warmupSteps: number;
  maxSeqLen: number;
  skipped: { train: SkippedRow[]; validation: SkippedRow[] };
}

export async function evaluate(
  sessions: ModelSessions,
  rows: readonly TokenizedRow[],
  labelIndex: (row: TokenizedRow) => number,
  numLabels: number,
  batchSize: number,
): Promise<EvalMetrics> {
  const acc = new MetricsAccumulator(numLabels);
  // Metrics ignore row order, so batch rows of similar length together: less padding, faster evaluation.
  const byLength = rows.map((_, i) => i).sort((a, b) => rows[a].inputIds.length - rows[b].inputIds.length);
  for (let start = 0; start < byLength.length; start += batchSize) {
    const idx = byLength.slice(start, start + batchSize);
    const batch = collate(
      idx.map((i) => rows[i]),
      labelIndex,
    );
    acc.add(await sessions.logits(batch), batch.labels!);
  }
  return acc.result();
}

/** The adapters' shape: a warm start's own, else the options'. */
function adapterOptions(opts: TrainOptions, warm: AdapterDir | null, numLayers: number): HoulsbyAdapterOptions {
  const given = warm?.config.adapter;
  return {
    bottleneck: given?.bottleneck ?? opts.bottleneck,
    nonlinearity: given?.nonlinearity ?? opts.nonlinearity,
    initStd: given?.initStd ?? opts.initStd,
    layers: given?.layers ?? parseLayerSet(opts.adapterLayers ?? `0-${numLayers - 1}`, numLayers),
    trainLayernorms: opts.trainLayernorms ?? true,
  };
}

async function prepare(opts: TrainOptions): Promise<Prepared> {
  const log = opts.log;
  if (opts.seeds.length === 0) throw new Error('--seeds: give at least one seed');
  const base = loadBaseModel(opts.base);
  const cfg = base.config;
  const warm = opts.initAdapter ? readAdapterDir(opts.initAdapter, base) : null;
  if (warm && warm.config.base.weightsSha256 !== base.weightsSha256) {
    throw new ModelFileError(
      `--init-adapter ${opts.initAdapter}: it was trained on a base whose model.safetensors has sha256 ${warm.config.base.weightsSha256}, but --base ${opts.base} has ${base.weightsSha256}`,
    );
  }
  const task =
    opts.task ??
    warm?.config.task ??
    basename(opts.data)
      .replace(/\.gz$/, '')
      .replace(/\.[^.]*$/, '')
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '-');
  if (!TASK_NAME.test(task))
    throw new Error(`--task: "${task}" must be 1-64 characters of a-z, 0-9, "_" or "-", starting with a letter or digit`);

  // RoBERTa's position table is max_position_embeddings minus its pad offset long (the family knows).
  const family = familyOf(cfg);
  const maxPositions = family.maxSequenceLength(cfg);
  if (opts.maxSeqLen !== undefined && opts.maxSeqLen > maxPositions) {
    throw new Error(
      `--max-seq-len ${opts.maxSeqLen} exceeds the base model's longest sequence ${maxPositions} (max_position_embeddings ${cfg.max_position_embeddings})`,
    );
  }
  const maxSeqLen = opts.maxSeqLen ?? Math.min(DEFAULT_MAX_SEQ_LEN, maxPositions);
  const tokenizer = await loadBaseTokenizer(opts.base, maxSeqLen, family);
  const dataOpts = {
    vocabSize: cfg.vocab_size,
    maxPositions,
    typeVocabSize: cfg.type_vocab_size,
    requireLabels: true,
    tokenizer,
  };
  const readOpts = {
    ...dataOpts,
    format: opts.format,
    textColumn: opts.textColumn,
    textPairColumn: opts.textPairColumn,
    labelColumn: opts.labelColumn,
    maxBadRows: opts.maxBadRows ?? 0,
  };
  const given = opts.labels ?? (warm?.config.labels.length ? warm.config.labels : undefined); // an imported adapter without a head has none
  const trainSet = await readDataset(opts.data, { ...readOpts, labels: given });
  // Labels come from all the rows, before any split, so a class only the held-out part has is not lost.
  const { labels, labelIndex } = resolveLabels(trainSet.rows, given, trainSet.name);
  let rows = trainSet.rows;
  let validation: TokenizedRow[] | null = null;
  const skipped = { train: trainSet.skipped, validation: [] as SkippedRow[] };
  if (opts.validation) {
    const v = await readDataset(opts.validation, { ...readOpts, labels, maxRows: opts.maxValidationRows }).catch((err: unknown) => {
      if (!(err instanceof DataLimitError && err.limit === 'rows')) throw err;
      throw new DataError(
        `${err.message.replace(/: more than .*$/, '')}: the validation data has more than ${opts.maxValidationRows} rows, the most a job evaluates (every evaluation reads them all, and the job budget counts them); use a sample`,
      );
    });
    validation = v.rows;
    skipped.validation = v.skipped;
    resolveLabels(validation, labels, v.name);
  } else if (opts.validationSplit) {
    ({ train: rows, validation } = splitValidation(rows, opts.validationSplit, opts.seeds[0], opts.maxValidationRows));
  }
  if (opts.seeds.length > 1 && !validation)
    throw new Error('--seeds: picking the best of several seeds needs --validation or --validation-split');
  if (skipped.train.length + skipped.validation.length > 0)
    log({
      event: 'skipped-rows',
      train: skipped.train.length,
      validation: skipped.validation.length,
      first: [...skipped.train, ...skipped.validation].slice(0, 5),
    });

  const adapter = opts.mode === 'adapter' ? adapterOptions(opts, warm, cfg.num_hidden_layers) : null;
  const spec: ModelSpec = { config: cfg, task, numLabels: labels.length, mode: opts.mode, adapter, usesPooler: base.hasPooler };
  const specs = parameterSpecs(spec);
  const stepsPerEpoch = Math.ceil(rows.length / opts.batchSize);
  const totalSteps = Math.min(opts.maxSteps ?? Infinity, stepsPerEpoch * opts.epochs);
  return {
    base,
    warm,
    task,
    rows,
    validation,
    labels,
    labelIndex,
    spec,
    specs,
    skipped,
    lengths: Int32Array.from(rows, (r) => r.inputIds.length),
    trainable: specs.filter((p) => p.trainable),
    totalSteps,
    warmupSteps: warmupStepsFor(opts.warmupRatio, totalSteps),
    maxSeqLen,
  };
}

/** What a resume must agree on with the run that wrote the checkpoint: contents and spec, never paths. */
function fingerprint(opts: TrainOptions, p: Prepared): RunFingerprint {
  const paths = ['base', 'data', 'validation', 'initAdapter', 'out', 'checkpointDir'] as const;
  const mayDiffer = ['log', 'onCheckpoint', 'onStep', 'resume', 'checkpointEvery', 'threads', 'device', ...paths] as const;
  return {
    dataSha256: rowsSha256(p.rows),
    validationSha256: p.validation && rowsSha256(p.validation),
    baseWeightsSha256: p.base.weightsSha256,
    initAdapterSha256: p.warm && tensorsSha256(p.warm.tensors),
    spec: { ...specOf(opts, mayDiffer), task: p.task, labels: p.labels },
  };
}

/** Where a seed's interrupted run stood, with its tensors: enough to continue it. */
type ResumePoint = { position: RunPosition } & Omit<CheckpointTensors, 'selected'>;

/** Saves a resumable state; the run adds the seeds it has finished and its selected parameters. */
type SaveCheckpoint = (position: RunPosition, tensors: Omit<CheckpointTensors, 'selected'>) => void;

/** The checkpoint in `dir` to continue from, or null to start from the beginning (there is none, or it is torn). */
function readResumePoint(
  opts: TrainOptions,
  dir: string,
  print: RunFingerprint,
): { finished: SeedResult[]; selected: Map<string, Float32Array> | null; at: ResumePoint } | null {
  let saved: ReturnType<typeof readCheckpoint> = null;
  try {
    saved = readCheckpoint(dir);
  } catch (err) {
    // A torn pair cannot be resumed; training from the start reaches the same result (deterministic).
    if (!(err instanceof TornCheckpointError)) throw err;
    opts.log({ event: 'checkpoint-ignored', reason: err.message });
  }
  if (!saved) return null;
  const differences = fingerprintDifferences(saved.state.fingerprint, print);
  if (differences.length > 0) {
    throw new Error(
      `--resume: the checkpoint in ${dir} was written by a run with other data or options (${differences.join(', ')} differ); remove it or change --checkpoint-dir`,
    );
  }
  const { position, finished } = saved.state;
  opts.log({ event: 'resume', from: join(dir, saved.folder), seed: opts.seeds[position.seedIndex], step: position.step });
  const { selected, ...tensors } = saved.tensors;
  return { finished, selected, at: { position, ...tensors } };
}

/** True when seed result `a` beats `b` on validation (any result beats none; without validation the first stays). */
function betterSeed(a: SeedResult, b: SeedResult | undefined, metric: SelectionMetric): boolean {
  return !b || (a.best !== null && isBetter(a.best, b.best, metric));
}

/** The best of the finished seeds. */
function bestSeed(results: readonly SeedResult[], metric: SelectionMetric): SeedResult | undefined {
  return results.reduce<SeedResult | undefined>((acc, r) => (betterSeed(r, acc, metric) ? r : acc), undefined);
}

const copyParams = (values: ReadonlyMap<string, Float32Array>, trainable: readonly ParamSpec[]) =>
  new Map(trainable.map((s) => [s.name, Float32Array.from(values.get(s.name)!)]));

const countParams = (list: readonly ParamSpec[]) => list.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);

/** adapter_config.json: what the adapter is, what it was trained on, and the Python `adapters` library's terms for it. */
function adapterConfig(opts: TrainOptions, p: Prepared, parameters: AdapterConfig['parameters']): AdapterConfig {
  const adapter = p.spec.adapter;
  const cfg = p.base.config;
  return {
    format: 'adapter-store.adapter/v1',
    task: p.task,
    mode: opts.mode,
    adapter,
    labels: p.labels,
    maxSeqLen: Math.max(
      p.maxSeqLen,
      p.lengths.reduce((m, l) => Math.max(m, l), 0),
    ),
    dropout: opts.dropout,
    base: { config: cfg, weightsSha256: p.base.weightsSha256, usesPooler: p.base.hasPooler, name: basename(opts.base) },
    parameters,
    createdAt: new Date().toISOString(),
    pythonAdapters: adapter
      ? {
          architecture: 'bottleneck',
          mh_adapter: true,
          output_adapter: true,
          reduction_factor: cfg.hidden_size / adapter.bottleneck,
          non_linearity: adapter.nonlinearity,
          leave_out: Array.from({ length: cfg.num_hidden_layers }, (_, l) => l).filter((l) => !adapter.layers.includes(l)),
        }
      : null,
  };
}

export async function train(opts: TrainOptions): Promise<{ metrics: TrainMetrics; config: AdapterConfig }> {
  assertWritableOutput(opts.out);
  const p = await prepare(opts);
  const parameters = { trainable: countParams(p.trainable), total: countParams(p.specs) };
  const shapes = new Map(p.trainable.map((s) => [s.name, s.shape]));
  const checkpointDir = opts.checkpointDir ?? `${opts.out}.checkpoint`;
  const print = fingerprint(opts, p);

  const resumed = opts.resume ? readResumePoint(opts, checkpointDir, print) : null;
  let finished: SeedResult[] = resumed?.finished ?? [];
  let selected: Map<string, Float32Array> | null = resumed?.selected ?? null;
  opts.log({
    event: 'start',
    task: p.task,
    mode: opts.mode,
    examples: p.rows.length,
    validationExamples: p.validation?.length ?? 0,
    labels: p.labels,
    totalSteps: p.totalSteps,
    seeds: opts.seeds,
    ...parameters,
  });

  let lastValues: Map<string, Float32Array> | null = null;
  for (let seedIndex = resumed?.at.position.seedIndex ?? 0; seedIndex < opts.seeds.length; seedIndex++) {
    const resumeHere = resumed && resumed.at.position.seedIndex === seedIndex ? resumed.at : null;
    const run = await runSeed(opts, p, seedIndex, resumeHere, (position, tensors) => {
      const state = {
        format: 'adapter-store.train-checkpoint/v2' as const,
        fingerprint: print,
        finished,
        position,
        savedAt: new Date().toISOString(),
      };
      const written = writeCheckpoint(checkpointDir, state, { ...tensors, selected }, shapes);
      opts.onCheckpoint?.({ dir: checkpointDir, folder: written.folder, step: position.step });
      opts.log({ event: 'checkpoint', dir: written.path, step: position.step });
    });
    if (betterSeed(run.result, bestSeed(finished, opts.metric), opts.metric)) selected = run.params;
    finished = [...finished, run.result];
    lastValues = run.params;
    opts.log({ event: 'seed-done', seed: run.result.seed, best: run.result.best, stoppedEarly: run.result.stoppedEarly });
  }

  const chosen = bestSeed(finished, opts.metric)!;
  const params = selected ?? lastValues!;
  const config = adapterConfig(opts, p, parameters);
  const majority = p.validation ? majorityBaseline(p.validation.map(p.labelIndex), p.labels) : null;
  const metrics: TrainMetrics = {
    task: p.task,
    mode: opts.mode,
    metric: opts.metric,
    selectedSeed: chosen.seed,
    steps: chosen.steps,
    validation: chosen.validation,
    best: chosen.best,
    seeds: finished.map((r) => ({
      seed: r.seed,
      best: r.best,
      steps: r.steps.length,
      stoppedEarly: r.stoppedEarly,
      finalLoss: r.steps.at(-1)?.loss ?? null,
    })),
    parameters: { ...parameters, trainablePercent: (100 * parameters.trainable) / parameters.total },
    examplesPerSecond: chosen.examplesPerSecond,
    secondsPerStep: chosen.secondsPerStep,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    trainExamples: p.rows.length,
    validationExamples: p.validation?.length ?? 0,
    skippedRows: {
      train: p.skipped.train.length,
      validation: p.skipped.validation.length,
      first: [...p.skipped.train, ...p.skipped.validation].slice(0, 20),
    },
    labels: p.labels,
    majority,
    belowMajority: belowMajority(chosen.best, majority, opts.metric),
  };
  const tensors = new Map(p.trainable.map((s) => [s.name, { shape: s.shape, data: params.get(s.name)! }]));
  writeAdapterDir(opts.out, { config, tensors }, metrics);
  if (metrics.belowMajority) opts.log({ event: 'below-majority', ...metrics.belowMajority });
  opts.log({
    event: 'done',
    out: opts.out,
    selectedSeed: chosen.seed,
    best: chosen.best,
    examplesPerSecond: metrics.examplesPerSecond,
    peakRssMb: metrics.peakRssMb,
  });
  return { metrics, config };
}

/** Evaluations without improvement in a row; the run stops once there are `patience` of them (0: never). */
class EarlyStopping {
  constructor(
    readonly patience: number,
    public stale = 0,
  ) {}

  record(improved: boolean): void {
    this.stale = improved ? 0 : this.stale + 1;
  }

  get exhausted(): boolean {
    return this.patience > 0 && this.stale >= this.patience;
  }
}

/** Steady-state throughput: the first step pays for session warm-up and is left out (unless it is the only one). */
class StepTimer {
  private examples = 0;
  private seconds = 0;
  private steps = 0;
  private warmedUp: boolean;

  constructor(totalSteps: number) {
    this.warmedUp = totalSteps === 1;
  }

  add(examples: number, seconds: number): void {
    if (this.warmedUp) {
      this.examples += examples;
      this.seconds += seconds;
      this.steps++;
    }
    this.warmedUp = true;
  }

  get examplesPerSecond(): number {
    return this.seconds > 0 ? this.examples / this.seconds : 0;
  }

  get secondsPerStep(): number {
    return this.steps > 0 ? this.seconds / this.steps : 0;
  }
}

/** One seed's training run; returns its result and the parameters to keep (best on validation, else final). */
async function runSeed(
  opts: TrainOptions,
  p: Prepared,
  seedIndex: number,
  resume: ResumePoint | null,
  save: SaveCheckpoint,
): Promise<{ result: SeedResult; params: Map<string, Float32Array> }> {
  const seed = opts.seeds[seedIndex];
  const rng = new Rng(seed);
  const values = initialParameters(
    p.spec,
    p.specs,
    p.base,
    rng,
    p.warm ? { task: p.warm.config.task, tensors: p.warm.tensors } : undefined,
  );
  if (resume) for (const [name, data] of resume.params) values.get(name)!.set(data);
  const sessions = await ModelSessions.create(p.spec, values, { device: opts.device, dropout: opts.dropout, seed, threads: opts.threads });
  const params: Param[] = p.trainable.map((s) => ({ name: s.name, data: values.get(s.name)! }));
  const optimizer =
    opts.optimizer === 'adamw'
      ? new AdamW(params, { lr: opts.lr, weightDecay: opts.weightDecay })
      : new SGD(params, { lr: opts.lr, weightDecay: opts.weightDecay });
  if (resume && optimizer instanceof AdamW && resume.adamM && resume.adamV) {
    optimizer.loadState({
      step: resume.position.optimizerStep,
      m: params.map((q) => resume.adamM!.get(q.name)!),
      v: params.map((q) => resume.adamV!.get(q.name)!),
    });
  }

  const result: SeedResult = resume?.position.partial ?? {
    seed,
    steps: [],
    validation: [],
    best: null,
    stoppedEarly: false,
    examplesPerSecond: 0,
    secondsPerStep: 0,
  };
  let best = resume?.best ?? null;
  const early = new EarlyStopping(opts.earlyStoppingPatience, resume?.position.evalsWithoutImprovement ?? 0);
  let step = resume?.position.step ?? 0;
  const timer = new StepTimer(p.totalSteps);

  const validate = async (epoch: number): Promise<void> => {
    if (!p.validation) return;
    const m = await evaluate(sessions, p.validation, p.labelIndex, p.labels.length, opts.batchSize);
    const record = { ...m, step, epoch };
    result.validation.push(record);
    const improved = isBetter(m, result.best, opts.metric);
    if (improved) {
      result.best = record;
      best = copyParams(values, p.trainable);
    }
    early.record(improved);
    opts.log({ event: 'validation', seed, step, epoch, ...m, metric: opts.metric, score: metricValue(m, opts.metric), improved });
  };
  const checkpoint = (position: Pick<RunPosition, 'epoch' | 'batch' | 'epochRng'>) => {
    const state = optimizer instanceof AdamW ? optimizer.state() : null;
    const byName = (list: Float32Array[] | undefined) => (list ? new Map(params.map((q, k) => [q.name, list[k]])) : null);
    save(
      { ...position, seedIndex, step, optimizerStep: state?.step ?? step, partial: result, evalsWithoutImprovement: early.stale },
      { params: new Map(params.map((q) => [q.name, q.data])), adamM: byName(state?.m), adamV: byName(state?.v), best },
    );
  };

  const startEpoch = resume?.position.epoch ?? 1;
  for (let epoch = startEpoch; epoch <= opts.epochs && step < p.totalSteps; epoch++) {
    const epochRng = epoch === startEpoch && resume ? resume.position.epochRng : rng.getState();
    rng.setState(epochRng);
    const batches =
      opts.shuffle && opts.bucketing
        ? bucketedBatches(p.lengths, opts.batchSize, rng)
        : makeBatches(p.rows, opts.batchSize, { shuffle: opts.shuffle, rng });
    const firstBatch = epoch === startEpoch && resume ? resume.position.batch : 0;
    let evaluatedAt = -1;
    for (let b = firstBatch; b < batches.length && step < p.totalSteps; b++) {
      const started = performance.now();
      const batch = collate(
        batches[b].map((i) => p.rows[i]),
        p.labelIndex,
        opts.padTo ?? 0,
      );
      const lr = learningRateAt(step, { base: opts.lr, totalSteps: p.totalSteps, warmupSteps: p.warmupSteps, kind: opts.schedule });
      const { loss, grads } = await sessions.step(batch);
      if (!Number.isFinite(loss)) throw new Error(`training diverged: loss is ${loss} at step ${step + 1} (lower --lr?)`);
      const gradList = params.map((q) => grads.get(q.name)!);
      const gradNorm = clipGradNorm(gradList, opts.maxGradNorm);
      optimizer.step(gradList, lr);
      const seconds = (performance.now() - started) / 1000;
      step++;
      timer.add(batch.batchSize, seconds);
      result.steps.push({ step, epoch, loss, lr, gradNorm });
      opts.log({
        event: 'step',
        seed,
        step,
        totalSteps: p.totalSteps,
        epoch,
        epochs: opts.epochs,
        loss,
        lr,
        gradNorm,
        examples: batch.batchSize,
        seconds,
      });
      if (opts.evalSteps > 0 && step % opts.evalSteps === 0) {
        await validate(epoch);
        evaluatedAt = step;
      }
      if (opts.checkpointEvery > 0 && step % opts.checkpointEvery === 0 && step < p.totalSteps)
        checkpoint({ epoch, batch: b + 1, epochRng });
      opts.onStep?.(step);
      if (early.exhausted) break;
    }
    if (evaluatedAt !== step && !early.exhausted) await validate(epoch);
    if (early.exhausted) {
      result.stoppedEarly = true;
      opts.log({ event: 'early-stop', seed, step, epoch, patience: early.patience });
      break;
    }
  }
  result.examplesPerSecond = timer.examplesPerSecond;
  result.secondsPerStep = timer.secondsPerStep;
  await sessions.release();
  return { result, params: best ?? copyParams(values, p.trainable) };
}
