/**
 * `trainer sweep --grid key=v1,v2,...`: the CLI side of the one grid (shared/sweep.ts). The grid is keyed
 * by the API's hyperparameter names; the CLI names each key by its train flag (GRID_FLAGS, the one table),
 * parses `--grid` entries into axes in the order given, and shows points by flag name (labels, sweep.json,
 * run directories). Values are checked by the parser of the train flag of that name, so a grid accepts
 * exactly what `train` accepts.
 */
import type { Option } from 'commander';
import { closestName } from '../../shared/suggest.ts';
import {
  type GridAxis,
  type GridKey,
  type GridPoint,
  type GridValue,
  gridSize,
  MAX_SWEEP_POINTS,
  MAX_SWEEP_RUNS,
  MAX_SWEEP_VALUES,
  pointLabel,
} from '../../shared/sweep.ts';

/** Each grid key's train flag (without the dashes), in the order help and errors list them. */
export const GRID_FLAGS = {
  lr: 'lr',
  bottleneck: 'bottleneck',
  epochs: 'epochs',
  initStd: 'init-std',
  nonlinearity: 'nonlinearity',
  mode: 'mode',
  adapterLayers: 'adapter-layers',
  trainLayernorms: 'train-layernorms',
  optimizer: 'optimizer',
  weightDecay: 'weight-decay',
  batchSize: 'batch-size',
  maxSteps: 'max-steps',
  schedule: 'schedule',
  warmupRatio: 'warmup-ratio',
  maxGradNorm: 'max-grad-norm',
  dropout: 'dropout',
  maxSeqLen: 'max-seq-len',
  earlyStoppingPatience: 'early-stopping-patience',
} as const satisfies Record<GridKey, string>;

export const GRID_KEYS = Object.keys(GRID_FLAGS) as GridKey[];
const KEY_OF_FLAG = new Map<string, GridKey>(GRID_KEYS.map((key) => [GRID_FLAGS[key], key]));

export class GridError extends Error {}

/** Parses one value of a key; throws with a message naming the flag when the value is bad. */
export type ValueParser = (text: string) => GridValue;

/** Each grid key's parser: its train option's own (range checks, choices, true/false). */
export function gridParsers(options: readonly Option[]): Map<GridKey, ValueParser> {
  const parsers = new Map<GridKey, ValueParser>();
  for (const key of GRID_KEYS) {
    const flag = `--${GRID_FLAGS[key]}`;
    const option = options.find((o) => o.long === flag);
    if (!option) throw new Error(`sweep: train has no option ${flag}`);
    // The flag must set the option the key names, or a point would train with another option than it says.
    if (option.attributeName() !== key) throw new Error(`sweep: ${flag} sets ${option.attributeName()}, not the grid key ${key}`);
    parsers.set(key, (text) => {
      if (option.argChoices && !option.argChoices.includes(text))
        throw new Error(`${flag} must be one of ${option.argChoices.join(', ')}, got "${text}"`);
      return option.parseArg ? option.parseArg<GridValue>(text, undefined as unknown as GridValue) : text;
    });
  }
  return parsers;
}

/**
 * The axes of `--grid` entries, in the order given. `parsers` maps each key the grid may use to its value
 * parser. Errors name the entry by its flag and say what would be right.
 */
export function parseGrid(entries: readonly string[], parsers: ReadonlyMap<GridKey, ValueParser>): GridAxis[] {
  if (entries.length === 0) throw new GridError('--grid: give at least one, e.g. --grid lr=1e-4,3e-4,1e-3');
  const flags = [...parsers.keys()].map((key) => GRID_FLAGS[key]);
  const axes: GridAxis[] = [];
  for (const entry of entries) {
    const m = /^([A-Za-z][A-Za-z0-9-]*)=(.*)$/.exec(entry.trim());
    if (!m) throw new GridError(`--grid "${entry}": expected key=value,value,... like lr=1e-4,3e-4,1e-3`);
    const [, flag, list] = m;
    const key = KEY_OF_FLAG.get(flag);
    const parse = key && parsers.get(key);
    if (!key || !parse) {
      // A hyperparameter's API name (initStd) is answered with its flag; anything else with the closest flag.
      const near = parsers.has(flag as GridKey) ? GRID_FLAGS[flag as GridKey] : closestName(flag, flags);
      throw new GridError(
        `--grid "${entry}": unknown key "${flag}"${near ? ` (did you mean "${near}"?)` : ''}; a grid varies one of: ${flags.join(', ')}`,
      );
    }
    if (axes.some((a) => a.key === key)) throw new GridError(`--grid: key "${flag}" is given twice; list all its values in one --grid`);
    const texts = list.split(',').map((s) => s.trim());
    if (texts.some((t) => t === '')) throw new GridError(`--grid "${entry}": empty value; separate values with single commas`);
    if (texts.length > MAX_SWEEP_VALUES)
      throw new GridError(`--grid "${entry}": ${texts.length} values exceeds the limit of ${MAX_SWEEP_VALUES} per key`);
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
  if (size > MAX_SWEEP_POINTS) {
    throw new GridError(
      `--grid: ${axes.map((a) => a.values.length).join(' x ')} = ${size} points exceeds the limit of ${MAX_SWEEP_POINTS}; sweep fewer values`,
    );
  }
  return axes;
}

/** Fails when points x seeds is more runs than one sweep may start. */
export function checkRunCount(axes: readonly GridAxis[], seeds: number): void {
  const runs = gridSize(axes) * seeds;
  if (runs > MAX_SWEEP_RUNS) {
    throw new GridError(`sweep: ${gridSize(axes)} points x ${seeds} seeds = ${runs} runs exceeds the limit of ${MAX_SWEEP_RUNS}`);
  }
}

/** A point keyed by flag names, `{"init-std": 0.001}`: how the sweep directory shows it (sweep.json, plots, logs). */
export const flagPoint = (p: GridPoint): Record<string, GridValue> =>
  Object.fromEntries(Object.entries(p).map(([key, v]) => [GRID_FLAGS[key as GridKey], v]));

/** The axes keyed by flag names, as sweep-plan.json and sweep.json record them. */
export const flagAxes = (axes: readonly GridAxis[]) => axes.map(({ key, values }) => ({ key: GRID_FLAGS[key], values }));

/** A point as text by flag names, `init-std=0.001 bottleneck=8`. */
export const flagLabel = (p: GridPoint) => pointLabel(flagPoint(p));

/** A point as a directory name: `lr=0.0001_bottleneck=8` with anything outside [A-Za-z0-9.=+-] replaced. */
export const pointDirName = (p: GridPoint) =>
  Object.entries(flagPoint(p))
    .map(([k, v]) => `${k}=${String(v)}`.replace(/[^A-Za-z0-9.=+-]/g, '-'))
    .join('_');
