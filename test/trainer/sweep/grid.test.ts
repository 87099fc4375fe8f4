/**
 * The CLI side of the grid: `--grid` flags mapped onto the grid's keys (the API's hyperparameter names),
 * the points they span in the order given, the names a sweep directory shows, and a precise error for
 * every bad entry, including the bounds the API shares.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command, Option } from 'commander';
import { HyperparametersSchema, SweepHyperparametersSchema } from '../../../shared/job-schema.ts';
import {
  type GridKey,
  gridPoints,
  MAX_SWEEP_POINTS,
  MAX_SWEEP_RUNS,
  MAX_SWEEP_VALUES,
  SWEEP_KEYS,
  sweepSettings,
} from '../../../shared/sweep.ts';
import { trainFlags } from '../../../trainer/cli-flags.ts';
import {
  checkRunCount,
  flagAxes,
  flagLabel,
  flagPoint,
  GRID_FLAGS,
  GRID_KEYS,
  GridError,
  gridParsers,
  parseGrid,
  pointDirName,
  type ValueParser,
} from '../../../trainer/sweep/grid.ts';

const positive =
  (flag: string): ValueParser =>
  (t) => {
    const v = Number(t);
    if (!(v > 0)) throw new Error(`${flag} must be a positive number, got "${t}"`);
    return v;
  };
const parsers = new Map<GridKey, ValueParser>([
  ['lr', positive('--lr')],
  ['bottleneck', positive('--bottleneck')],
  ['epochs', positive('--epochs')],
  ['initStd', positive('--init-std')],
  ['nonlinearity', (t) => t],
]);

test("the paper's grid: 3 x 3 x 2 points in the order the flags were given, the last axis varying fastest", () => {
  const axes = parseGrid(['lr=1e-4,3e-4,1e-3', 'bottleneck=8,64,256', 'epochs=3,20'], parsers);
  assert.deepEqual(
    axes.map((a) => [a.key, a.values]),
    [
      ['lr', [1e-4, 3e-4, 1e-3]],
      ['bottleneck', [8, 64, 256]],
      ['epochs', [3, 20]],
    ],
  );
  const points = gridPoints(axes);
  assert.equal(points.length, 18);
  assert.deepEqual(points[0], { lr: 1e-4, bottleneck: 8, epochs: 3 });
  assert.deepEqual(points[1], { lr: 1e-4, bottleneck: 8, epochs: 20 });
  assert.deepEqual(points[17], { lr: 1e-3, bottleneck: 256, epochs: 20 });
  assert.equal(new Set(points.map(pointDirName)).size, 18, 'every point has its own directory');
  assert.equal(pointDirName(points[0]), 'lr=0.0001_bottleneck=8_epochs=3');
});

test('a kebab-case flag becomes its hyperparameter key; the sweep directory still shows the flag', () => {
  const axes = parseGrid(['init-std=1e-7,1e-5,1e-3,1e-2,1e-1,1', 'bottleneck=8,64'], parsers);
  assert.deepEqual(
    axes.map((a) => a.key),
    ['initStd', 'bottleneck'],
  );
  const points = gridPoints(axes);
  assert.deepEqual(
    points.filter((_, i) => i % 2 === 0).map((p) => p.initStd),
    [1e-7, 1e-5, 1e-3, 1e-2, 1e-1, 1],
  );
  // What sweep.json, sweep.svg, the logs and the run directories show (as before the grid was shared).
  assert.deepEqual(flagPoint(points[1]), { 'init-std': 1e-7, bottleneck: 64 });
  assert.equal(flagLabel(points[1]), 'init-std=1e-7 bottleneck=64');
  assert.equal(pointDirName(points[1]), 'init-std=1e-7_bottleneck=64');
  // sweep-plan.json records the grid by flag names: a sweep directory written before resumes.
  assert.deepEqual(flagAxes(axes)[0], { key: 'init-std', values: [1e-7, 1e-5, 1e-3, 1e-2, 1e-1, 1] });
});

test('one table: every grid key has a train flag that sets the option of that name', () => {
  assert.deepEqual(GRID_KEYS, Object.keys(GRID_FLAGS));
  // The API's sweep keys are all in it, named as the API names them.
  for (const key of SWEEP_KEYS) {
    assert.ok(GRID_KEYS.includes(key), key);
    assert.ok(key in HyperparametersSchema.shape, key);
  }
  // Each key is an option `train` hands the trainer (trainFlags types exactly what commander produces).
  for (const key of GRID_KEYS) assert.ok(key in trainFlags.shape, `${key} is a train option`);
  // The parsers come from the train command's own options; a flag missing from it is caught at once.
  const train = new Command('train');
  for (const flag of Object.values(GRID_FLAGS)) train.addOption(new Option(`--${flag} <v>`));
  assert.deepEqual([...gridParsers(train.options).keys()], GRID_KEYS);
  const withoutDropout = train.options.filter((o) => o.long !== '--dropout');
  assert.throws(() => gridParsers(withoutDropout), /sweep: train has no option --dropout/);
});

test('a --grid in SWEEP_KEYS order numbers its points as the job with the same lists does', () => {
  const job = { bottleneck: [8, 64, 256], initStd: [1e-3, 1e-2], lr: [1e-4, 1e-3] };
  const axes = parseGrid(['bottleneck=8,64,256', 'init-std=1e-3,1e-2', 'lr=1e-4,1e-3'], parsers);
  assert.deepEqual(gridPoints(axes), sweepSettings(job));
});

test('each bad entry fails with a message that names it by its flag', () => {
  const fails = (entries: string[], message: RegExp) =>
    assert.throws(
      () => parseGrid(entries, parsers),
      (e: Error) => e instanceof GridError && message.test(e.message),
    );
  fails([], /give at least one/);
  fails(['lr'], /--grid "lr": expected key=value,value/);
  fails(
    ['learning-rate=1e-3'],
    /unknown key "learning-rate" \(did you mean "lr"\?\); a grid varies one of: lr, bottleneck, epochs, init-std, nonlinearity$/,
  );
  // The API's name of a hyperparameter is not a flag: the CLI takes flag names, and says which.
  fails(['initStd=1e-3'], /unknown key "initStd" \(did you mean "init-std"\?\)/);
  fails(['lr=1e-3', 'lr=1e-4'], /key "lr" is given twice/);
  fails(['init-std=1e-3', 'init-std=1e-4'], /key "init-std" is given twice/);
  fails(['lr=1e-3,,1e-4'], /empty value/);
  fails(['lr=1e-3,abc'], /--grid "lr=1e-3,abc": --lr must be a positive number, got "abc"/);
  fails(['lr=1e-3,0.001'], /value 0.001 is listed twice/);
});

test("the grid's bounds are the API's: points, values per key, and runs", () => {
  const values = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
  assert.equal(MAX_SWEEP_POINTS, 32);
  const atBound = [`bottleneck=${values(4)}`, `epochs=${values(8)}`];
  assert.equal(gridPoints(parseGrid(atBound, parsers)).length, 32);
  assert.throws(() => parseGrid([...atBound, 'lr=1,2'], parsers), /--grid: 4 x 8 x 2 = 64 points exceeds the limit of 32/);
  // The API takes the same grid and refuses the same grid.
  const job = (lr: number | number[]) => SweepHyperparametersSchema.safeParse({ bottleneck: values(4), epochs: values(8), lr });
  assert.ok(job(0.1).success);
  assert.ok(!job([0.1, 0.2]).success);

  assert.equal(parseGrid([`bottleneck=${values(MAX_SWEEP_VALUES)}`], parsers)[0].values.length, 16);
  assert.throws(() => parseGrid([`bottleneck=${values(17)}`], parsers), /17 values exceeds the limit of 16 per key/);
  assert.ok(!SweepHyperparametersSchema.safeParse({ bottleneck: values(17) }).success);

  const axes = parseGrid(atBound, parsers);
  checkRunCount(axes, MAX_SWEEP_RUNS / 32);
  assert.throws(() => checkRunCount(axes, MAX_SWEEP_RUNS / 32 + 1), /32 points x 11 seeds = 352 runs exceeds the limit of 320/);
});
