/**
 * A sweep's grid: `--grid key=v1,v2,...` flags parsed into axes, and the points (every combination) they span.
 * Values are checked by the same parsers as the `train` flag of that name, so a grid accepts exactly
 * what `train` accepts.
 */
import { closestName } from '../../shared/suggest.ts';

/** The most points a grid may span (the paper's grid, 3 x 3 x 2 = 18, fits with room to spare). */
export const MAX_GRID_POINTS = 64;
/** The most training runs (points x seeds) one sweep may start. */
export const MAX_SWEEP_RUNS = 320;

/** The train flags a grid may vary (by their flag names); the rest (data, paths, seeds, metric...) are one per sweep. */
export const GRID_KEYS = [
  'lr',
  'bottleneck',
  'epochs',
  'init-std',
  'nonlinearity',
  'mode',
  'adapter-layers',
  'train-layernorms',
  'optimizer',
  'weight-decay',
  'batch-size',
  'max-steps',
  'schedule',
  'warmup-ratio',
  'max-grad-norm',
  'dropout',
  'max-seq-len',
  'early-stopping-patience',
] as const;

export type GridValue = string | number | boolean;

export interface GridAxis {
  /** The flag name, e.g. `init-std`. */
  key: string;
  values: GridValue[];
}

/** One combination of axis values, keyed by flag name, in the order the axes were given. */
export type GridPoint = Record<string, GridValue>;

export class GridError extends Error {}

/** Parses one value of a key; throws with a message naming the flag when the value is bad. */
export type ValueParser = (text: string) => GridValue;

/**
 * The axes of `--grid` entries. `parsers` maps each key the grid may use to its value parser.
 * Errors name the entry and say what would be right.
 */
export function parseGrid(entries: readonly string[], parsers: ReadonlyMap<string, ValueParser>): GridAxis[] {
  if (entries.length === 0) throw new GridError('--grid: give at least one, e.g. --grid lr=1e-4,3e-4,1e-3');
  const axes: GridAxis[] = [];
  for (const entry of entries) {
    const m = /^([a-z][a-z0-9-]*)=(.*)$/.exec(entry.trim());
    if (!m) throw new GridError(`--grid "${entry}": expected key=value,value,... like lr=1e-4,3e-4,1e-3`);
    const [, key, list] = m;
    const parse = parsers.get(key);
    if (!parse) {
      const near = closestName(key, [...parsers.keys()]);
      throw new GridError(
        `--grid "${entry}": unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}; a grid varies one of: ${[...parsers.keys()].join(', ')}`,
      );
    }
    if (axes.some((a) => a.key === key)) throw new GridError(`--grid: key "${key}" is given twice; list all its values in one --grid`);
    const texts = list.split(',').map((s) => s.trim());
    if (texts.some((t) => t === '')) throw new GridError(`--grid "${entry}": empty value; separate values with single commas`);
    const values = texts.map((t) => {
      try {
        return parse(t);
      } catch (err) {
        throw new GridError(`--grid "${entry}": ${(err as Error).message}`);
      }
    });
    const seen = new Set<string>();
    for (const v of values) {
      if (seen.has(String(v))) throw new GridError(`--grid "${entry}": value ${String(v)} is listed twice`);
      seen.add(String(v));
    }
    axes.push({ key, values });
  }
  const size = gridSize(axes);
  if (size > MAX_GRID_POINTS) {
    throw new GridError(
      `--grid: ${axes.map((a) => a.values.length).join(' x ')} = ${size} points exceeds the limit of ${MAX_GRID_POINTS}; sweep fewer values`,
    );
  }
  return axes;
}

export const gridSize = (axes: readonly GridAxis[]) => axes.reduce((n, a) => n * a.values.length, 1);

/** Fails when points x seeds is more runs than one sweep may start. */
export function checkRunCount(axes: readonly GridAxis[], seeds: number): void {
  const runs = gridSize(axes) * seeds;
  if (runs > MAX_SWEEP_RUNS) {
    throw new GridError(`sweep: ${gridSize(axes)} points x ${seeds} seeds = ${runs} runs exceeds the limit of ${MAX_SWEEP_RUNS}`);
  }
}

/** Every combination, the last axis varying fastest (so points are listed like nested loops over the flags in order). */
export function gridPoints(axes: readonly GridAxis[]): GridPoint[] {
  let points: GridPoint[] = [{}];
  for (const axis of axes) points = points.flatMap((p) => axis.values.map((v) => ({ ...p, [axis.key]: v })));
  return points;
}

/** A point as text, `lr=0.0001 bottleneck=8`: labels in plots and logs. */
export const pointLabel = (p: GridPoint) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');

/** A point as a directory name: `lr=0.0001_bottleneck=8` with anything outside [A-Za-z0-9.=+-] replaced. */
export const pointDirName = (p: GridPoint) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${String(v)}`.replace(/[^A-Za-z0-9.=+-]/g, '-'))
    .join('_');
