/**
 * A sweep's grid, the one module for the API and the trainer CLI: axes (a hyperparameter and its values),
 * the points they span (every combination, the last axis varying fastest), the bounds, and a point's label.
 *
 * Keys are the API's Hyperparameters names. A job (`POST /finetune` with lists in `hyperparameters`)
 * nests its axes in SWEEP_KEYS order, whatever the request's key order, so point i means the same
 * hyperparameters to the API, the Batch array child that trains it and the reduce. `trainer sweep` maps its
 * kebab-case `--grid` keys onto these names (trainer/sweep/grid.ts) and nests its axes in the order given.
 */
import type { Hyperparameters } from './job.ts';

/** The hyperparameters a job may sweep, in the order their axes nest (the last varies fastest). */
export const SWEEP_KEYS = [
  'mode',
  'bottleneck',
  'nonlinearity',
  'initStd',
  'adapterLayers',
  'trainLayernorms',
  'epochs',
  'lr',
  'batchSize',
  'maxSeqLen',
  'weightDecay',
  'warmupRatio',
  'dropout',
  'earlyStoppingPatience',
] as const satisfies readonly (keyof Hyperparameters)[];
export type SweepKey = (typeof SWEEP_KEYS)[number];

/**
 * Training options only the trainer CLI sweeps: a job cannot set the first three at all, and a job's
 * maxSteps is one value (the deployment's budget caps it). Named as the trainer's options are, like the rest.
 */
export const TRAINER_ONLY_GRID_KEYS = ['optimizer', 'maxSteps', 'schedule', 'maxGradNorm'] as const;

/** Every key a grid may vary. */
export type GridKey = SweepKey | (typeof TRAINER_ONLY_GRID_KEYS)[number];

/**
 * The bounds of every sweep, API or CLI: points per grid, values per axis, and runs (points x seeds).
 * 32 points hold the paper's grid (3 x 3 x 2 = 18); with a job's at most 10 seeds that is the 320 runs.
 */
export const MAX_SWEEP_POINTS = 32;
export const MAX_SWEEP_VALUES = 16;
export const MAX_SWEEP_RUNS = 320;

export type GridValue = string | number | boolean;

export interface GridAxis<K extends GridKey = GridKey> {
  key: K;
  values: readonly GridValue[];
}

/** A point's swept values, by key, in axis order: what tells the points apart, e.g. {lr: 0.001, bottleneck: 64}. */
export type GridPoint = Partial<Record<GridKey, GridValue>>;

/** How many points the axes span (1 for none: a plain job is its own single point). */
export const gridSize = (axes: readonly GridAxis[]) => axes.reduce((n, a) => n * a.values.length, 1);

/** Every point's swept values, the last axis varying fastest (nested loops over the axes in order). */
export function gridPoints(axes: readonly GridAxis[]): GridPoint[] {
  let points: GridPoint[] = [{}];
  for (const { key, values } of axes) points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  return points;
}

/** A point as text, `lr=0.001 bottleneck=64`: in job events, logs, plots and messages. */
export const pointLabel = (point: Readonly<Record<string, unknown>>) =>
  Object.entries(point)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');

// --- a job's hyperparameters as a grid -------------------------------------------------------------

/** Hyperparameters as a request gives them: a sweep key may hold a list of values. */
export type SweepHyperparameters = Omit<Hyperparameters, SweepKey> & {
  [K in SweepKey]?: Hyperparameters[K] | NonNullable<Hyperparameters[K]>[];
};

/** A job's swept axes, in SWEEP_KEYS order (a key with a list of values). */
export function sweepAxes(h: SweepHyperparameters): GridAxis<SweepKey>[] {
  return SWEEP_KEYS.flatMap((key) => {
    const values = h[key];
    return Array.isArray(values) ? [{ key, values }] : [];
  });
}

/** Whether the hyperparameters ask for a sweep (some key lists values). */
export const isSweep = (h: SweepHyperparameters) => sweepAxes(h).length > 0;

/** How many points the job's grid spans (1 for a plain job). */
export const sweepSize = (h: SweepHyperparameters) => gridSize(sweepAxes(h));

/** Every point's swept keys only, in point order (see GridPoint). */
export const sweepSettings = (h: SweepHyperparameters) => gridPoints(sweepAxes(h)) as Partial<Hyperparameters>[];

/** Every point's hyperparameters, in point order; a plain job is its own single point. */
export const sweepPoints = (h: SweepHyperparameters) => sweepSettings(h).map((s) => ({ ...h, ...s }) as Hyperparameters);

/** The swept keys of point `index` (see sweepSettings). */
export function pointSettings(h: SweepHyperparameters, index: number): Partial<Hyperparameters> {
  const settings = sweepSettings(h)[index];
  if (!settings) throw new RangeError(`point ${index} is outside the sweep's ${sweepSize(h)} points`);
  return settings;
}
