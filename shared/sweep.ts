/**
 * A fine-tune job as a hyperparameter sweep: `POST /finetune` with arrays in `hyperparameters` asks for
 * every combination of them (a grid), each trained as its own point (an AWS Batch array child on AWS),
 * the best on validation published as the version. The API, the Batch launcher and the trainer expand
 * the grid with this one function, so point i means the same hyperparameters everywhere.
 */
import type { Hyperparameters } from './job.ts';

/** The hyperparameters a sweep may vary, in the order their axes nest (the last varies fastest). */
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

/** The most points one job may sweep (the paper's grid, 3 x 3 x 2 = 18, fits), and values per axis. */
export const MAX_SWEEP_POINTS = 32;
export const MAX_SWEEP_VALUES = 16;

/** Hyperparameters as a request gives them: a sweep key may hold a list of values. */
export type SweepHyperparameters = Omit<Hyperparameters, SweepKey> & {
  [K in SweepKey]?: Hyperparameters[K] | NonNullable<Hyperparameters[K]>[];
};

/** The swept axes, in SWEEP_KEYS order (a key with a list of values). */
export function sweepAxes(h: SweepHyperparameters): { key: SweepKey; values: unknown[] }[] {
  return SWEEP_KEYS.filter((k) => Array.isArray(h[k])).map((key) => ({ key, values: h[key] as unknown[] }));
}

/** Whether the hyperparameters ask for a sweep (some key lists values). */
export const isSweep = (h: SweepHyperparameters) => sweepAxes(h).length > 0;

/** How many points the grid spans (1 for a plain job). */
export const sweepSize = (h: SweepHyperparameters) => sweepAxes(h).reduce((n, a) => n * a.values.length, 1);

/** Every point's hyperparameters, the last axis varying fastest; a plain job is its own single point. */
export function sweepPoints(h: SweepHyperparameters): Hyperparameters[] {
  let points: Record<string, unknown>[] = [{ ...h }];
  for (const { key, values } of sweepAxes(h)) points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  return points as Hyperparameters[];
}

/** Every point's swept keys only, in point order: what tells the points apart, e.g. {lr: 0.001, bottleneck: 64}. */
export function sweepSettings(h: SweepHyperparameters): Partial<Hyperparameters>[] {
  const keys = sweepAxes(h).map((a) => a.key);
  return sweepPoints(h).map((point) => Object.fromEntries(keys.map((key) => [key, point[key]])));
}

/** The swept keys of point `index` (see sweepSettings). */
export function pointSettings(h: SweepHyperparameters, index: number): Partial<Hyperparameters> {
  const settings = sweepSettings(h)[index];
  if (!settings) throw new RangeError(`point ${index} is outside the sweep's ${sweepSize(h)} points`);
  return settings;
}
