/**
 * `trainer sweep`: train every point of a grid once per seed (here, or in N child processes), pick the
 * best point on validation (select.ts), and write into the output directory
 *   best/                 the winning run's adapter directory (its best seed),
 *   sweep.json            every point: hyperparameters, per seed its metrics, seconds and trainable share,
 *   sweep.svg             the validation metric per point, mean and spread over seeds,
 *   runs/<point>/seed-<s>/  every run's adapter directory, and sweep-plan.json (what the sweep is).
 * Re-running the same command on the same directory resumes: runs whose adapter exists are not trained again.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type GridAxis, type GridPoint, type GridValue, gridPoints } from '../../shared/sweep.ts';
import type { EvalRecord, SelectionMetric } from '../../shared/trainer-events.ts';
import { metricValue } from '../train/metrics.ts';
import { type TrainMetrics, type TrainOptions, train } from '../train/trainer.ts';
import { type ChildEntry, currentEntry, type PlainTrainOptions, trainInChild } from './child-run.ts';
import { checkRunCount, flagAxes, flagLabel, flagPoint, GridError, pointDirName } from './grid.ts';
import { sweepPlot } from './plot.ts';
import { selectBest, summarize } from './select.ts';

export interface SweepOptions {
  /** Every run's options except the ones the grid and the seed set; `out`, `seeds` and `log` are the sweep's. */
  train: Omit<PlainTrainOptions, 'out' | 'seeds'>;
  axes: GridAxis[];
  seeds: number[];
  /** Runs at a time: 1 trains here, N > 1 in N child processes. */
  parallel: number;
  out: string;
  /** Progress of the sweep itself (one line per run). */
  log: (event: SweepEvent) => void;
  /** In-process runs' training events (parallel runs train quietly). */
  trainLog: TrainOptions['log'];
  /** Where child processes start (default: this process's entry script and Node flags). */
  child?: ChildEntry;
}

export type SweepEvent =
  | { event: 'sweep-start'; points: number; seeds: number[]; runs: number; done: number; parallel: number; threadsPerRun?: number }
  | { event: 'sweep-run'; point: string; seed: number; value: number | null; seconds: number | null; resumed: boolean; error?: string }
  | { event: 'sweep-done'; best: string | null; seed: number | null; value: number | null; out: string };

export interface SweepRun {
  seed: number;
  /** The selection metric of the run's best checkpoint on validation; null when the run failed. */
  value: number | null;
  metrics: EvalRecord | null;
  /** Wall time of the training (null for a run resumed from an older sweep that did not record it). */
  seconds: number | null;
  /** The run's adapter directory, relative to the sweep's. */
  dir: string;
  error?: string;
}

/** A point's swept values by flag name, as given to --grid: `{"init-std": 0.001}`. */
export type FlagSettings = Record<string, GridValue>;

export interface SweepPointResult {
  index: number;
  label: string;
  hyperparameters: FlagSettings;
  trainableParameters: number | null;
  trainablePercent: number | null;
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
  runs: SweepRun[];
}

export interface SweepResult {
  format: 'adapter-store.sweep/v1';
  metric: SelectionMetric;
  lowerIsBetter: boolean;
  selection: string;
  grid: Record<string, readonly GridValue[]>;
  seeds: number[];
  best: { point: number; label: string; hyperparameters: FlagSettings; seed: number; mean: number; dir: string } | null;
  points: SweepPointResult[];
  options: Omit<PlainTrainOptions, 'out' | 'seeds'>;
  createdAt: string;
}

const PLAN = 'sweep-plan.json';
const SELECTION =
  'highest mean over seeds (lowest for loss) among points whose seeds all finished; ties: fewer trainable parameters, then smaller std, then the point listed first; the adapter kept is the best seed of that point (ties: the seed listed first)';

/**
 * The options that make a sweep what it is: a resume must agree on them. The grid is recorded by flag
 * names, as it always was, so a sweep directory written before the grid moved to shared/ still resumes.
 */
function plan(o: SweepOptions) {
  const { threads: _t, device: _d, resume: _r, checkpointDir: _c, ...train } = o.train;
  return { format: 'adapter-store.sweep-plan/v1', grid: flagAxes(o.axes), seeds: o.seeds, train };
}

/** Creates the output directory, or checks that the one there is this same sweep (a resume). */
function openOutput(o: SweepOptions): void {
  const planText = `${JSON.stringify(plan(o), null, 2)}\n`;
  const planPath = join(o.out, PLAN);
  if (existsSync(o.out) && readdirSync(o.out).length > 0) {
    if (!existsSync(planPath)) throw new GridError(`--out ${o.out}: directory is not empty and holds no sweep; choose a new directory`);
    if (readFileSync(planPath, 'utf8') !== planText)
      throw new GridError(`--out ${o.out}: holds a sweep with another grid, seeds or options; choose a new directory to start a new sweep`);
    return;
  }
  mkdirSync(o.out, { recursive: true });
  writeFileSync(planPath, planText);
}

interface PendingRun {
  point: number;
  seedIndex: number;
  options: PlainTrainOptions;
  dir: string;
}

export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  if (!o.train.validation && !o.train.validationSplit)
    throw new GridError('sweep: picking the best point needs --validation or --validation-split');
  if (o.seeds.length === 0) throw new GridError('--seeds: give at least one seed');
  checkRunCount(o.axes, o.seeds.length);
  const cores = availableParallelism();
  if (!Number.isInteger(o.parallel) || o.parallel < 1 || o.parallel > cores)
    throw new GridError(`--parallel ${o.parallel}: must be between 1 and the ${cores} cores of this machine`);
  openOutput(o);

  const points = gridPoints(o.axes);
  // Each child gets an equal share of the cores (of --threads when given): N runs never oversubscribe the CPU.
  const threadsPerRun = o.parallel > 1 ? Math.max(1, Math.floor((o.train.threads ?? cores) / o.parallel)) : o.train.threads;
  const runs: SweepRun[][] = points.map(() => []);
  const pending: PendingRun[] = [];
  points.forEach((p, point) => {
    o.seeds.forEach((seed, seedIndex) => {
      const dir = join('runs', pointDirName(p), `seed-${seed}`);
      // Grid keys are the train options' own names: a point's values override them as they are.
      const options = { ...o.train, ...p, seeds: [seed], threads: threadsPerRun, out: join(o.out, dir) } as PlainTrainOptions;
      pending.push({ point, seedIndex, options, dir });
    });
  });
  const finished = pending.filter((r) => existsSync(join(r.options.out, 'metrics.json')));
  o.log({
    event: 'sweep-start',
    points: points.length,
    seeds: o.seeds,
    runs: pending.length,
    done: finished.length,
    parallel: o.parallel,
    threadsPerRun,
  });

  const trainableByPoint: ({ trainable: number; trainablePercent: number } | null)[] = points.map(() => null);
  const record = (r: PendingRun, seconds: number | null, resumed: boolean, error?: string) => {
    const seed = o.seeds[r.seedIndex];
    let metrics: EvalRecord | null = null;
    if (!error) {
      const m = JSON.parse(readFileSync(join(r.options.out, 'metrics.json'), 'utf8')) as TrainMetrics;
      metrics = m.best;
      trainableByPoint[r.point] = m.parameters;
    }
    const value = metrics ? metricValue(metrics, o.train.metric) : null;
    runs[r.point][r.seedIndex] = { seed, value, metrics, seconds, dir: r.dir, ...(error ? { error } : {}) };
    o.log({ event: 'sweep-run', point: flagLabel(points[r.point]), seed, value, seconds, resumed, ...(error ? { error } : {}) });
  };

  const secondsFile = (r: PendingRun) => `${r.options.out}.seconds`;
  for (const r of finished) {
    const s = existsSync(secondsFile(r)) ? Number(readFileSync(secondsFile(r), 'utf8')) : null;
    record(r, s, true);
  }
  const queue = pending.filter((r) => !finished.includes(r));
  const runOne = async (r: PendingRun) => {
    try {
      let seconds: number;
      if (o.parallel > 1) seconds = await trainInChild(r.options, o.child ?? currentEntry());
      else {
        const started = performance.now();
        await train({ ...r.options, log: o.trainLog });
        seconds = (performance.now() - started) / 1000;
      }
      writeFileSync(secondsFile(r), `${seconds}\n`);
      record(r, seconds, false);
    } catch (err) {
      record(r, null, false, (err as Error).message);
    }
  };
  const workers = Array.from({ length: Math.min(o.parallel, queue.length) }, async () => {
    for (let r = queue.shift(); r; r = queue.shift()) await runOne(r);
  });
  await Promise.all(workers);

  return writeResults(o, points, runs, trainableByPoint);
}

function writeResults(
  o: SweepOptions,
  points: GridPoint[],
  runs: SweepRun[][],
  trainable: ({ trainable: number; trainablePercent: number } | null)[],
): SweepResult {
  const lowerIsBetter = o.train.metric === 'loss';
  const pointResults: SweepPointResult[] = points.map((p, index) => {
    const s = summarize(runs[index].map((r) => r.value));
    return {
      index,
      label: flagLabel(p),
      hyperparameters: flagPoint(p),
      trainableParameters: trainable[index]?.trainable ?? null,
      trainablePercent: trainable[index]?.trainablePercent ?? null,
      mean: s?.mean ?? null,
      std: s?.std ?? null,
      min: s?.min ?? null,
      max: s?.max ?? null,
      runs: runs[index],
    };
  });
  const chosen = selectBest(
    pointResults.map((p) => ({ values: p.runs.map((r) => r.value), trainablePercent: p.trainablePercent })),
    lowerIsBetter,
  );
  const bestDir = join(o.out, 'best');
  rmSync(bestDir, { recursive: true, force: true });
  let best: SweepResult['best'] = null;
  if (chosen) {
    const p = pointResults[chosen.point];
    const staging = join(o.out, '.best.partial');
    rmSync(staging, { recursive: true, force: true });
    cpSync(join(o.out, p.runs[chosen.seed].dir), staging, { recursive: true });
    renameSync(staging, bestDir);
    best = {
      point: chosen.point,
      label: p.label,
      hyperparameters: p.hyperparameters,
      seed: o.seeds[chosen.seed],
      mean: p.mean!,
      dir: 'best',
    };
  }
  const result: SweepResult = {
    format: 'adapter-store.sweep/v1',
    metric: o.train.metric,
    lowerIsBetter,
    selection: SELECTION,
    grid: Object.fromEntries(flagAxes(o.axes).map((a) => [a.key, a.values])),
    seeds: o.seeds,
    best,
    points: pointResults,
    options: o.train,
    createdAt: new Date().toISOString(),
  };
  writeFileSync(join(o.out, 'sweep.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(
    join(o.out, 'sweep.svg'),
    sweepPlot(
      pointResults.map((p) => ({
        label: p.label,
        values: p.runs.flatMap((r) => (r.value === null ? [] : [r.value])),
        mean: p.mean,
        std: p.std,
      })),
      { metric: o.train.metric, seeds: o.seeds.length, best: chosen?.point ?? null },
    ),
  );
  o.log({ event: 'sweep-done', best: best?.label ?? null, seed: best?.seed ?? null, value: best?.mean ?? null, out: o.out });
  if (!best) {
    const failure = pointResults.flatMap((p) => p.runs.filter((r) => r.error).map((r) => `${p.label} seed ${r.seed}: ${r.error}`))[0];
    throw new Error(
      `sweep: no point finished all its seeds${failure ? `; first failure: ${failure}` : ''} (results in ${join(o.out, 'sweep.json')})`,
    );
  }
  return result;
}
