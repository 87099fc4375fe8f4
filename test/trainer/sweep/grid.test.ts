/** Grid parsing: axes, the points they span, and a precise error for every bad entry, including the size bounds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkRunCount,
  GridError,
  gridPoints,
  MAX_GRID_POINTS,
  MAX_SWEEP_RUNS,
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
const parsers = new Map<string, ValueParser>([
  ['lr', positive('--lr')],
  ['bottleneck', positive('--bottleneck')],
  ['epochs', positive('--epochs')],
  ['init-std', positive('--init-std')],
  ['nonlinearity', (t) => t],
]);

test("the paper's grid: 3 x 3 x 2 points, the last axis varying fastest", () => {
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

test('the robustness grid over init-std parses to six points', () => {
  const points = gridPoints(parseGrid(['init-std=1e-7,1e-5,1e-3,1e-2,1e-1,1'], parsers));
  assert.deepEqual(
    points.map((p) => p['init-std']),
    [1e-7, 1e-5, 1e-3, 1e-2, 1e-1, 1],
  );
});

test('each bad entry fails with a message that names it', () => {
  const fails = (entries: string[], message: RegExp) =>
    assert.throws(
      () => parseGrid(entries, parsers),
      (e: Error) => e instanceof GridError && message.test(e.message),
    );
  fails([], /give at least one/);
  fails(['lr'], /--grid "lr": expected key=value,value/);
  fails(
    ['learning-rate=1e-3'],
    /unknown key "learning-rate" \(did you mean "lr"\?\); a grid varies one of: lr, bottleneck, epochs, init-std, nonlinearity/,
  );
  fails(['lr=1e-3', 'lr=1e-4'], /key "lr" is given twice/);
  fails(['lr=1e-3,,1e-4'], /empty value/);
  fails(['lr=1e-3,abc'], /--grid "lr=1e-3,abc": --lr must be a positive number, got "abc"/);
  fails(['lr=1e-3,0.001'], /value 0.001 is listed twice/);
});

test('a grid over the point bound fails, one at the bound passes', () => {
  const values = (n: number) => Array.from({ length: n }, (_, i) => i + 1).join(',');
  assert.equal(MAX_GRID_POINTS, 64);
  assert.equal(gridPoints(parseGrid([`bottleneck=${values(8)}`, `epochs=${values(8)}`], parsers)).length, 64);
  assert.throws(
    () => parseGrid([`bottleneck=${values(8)}`, `epochs=${values(8)}`, 'lr=1,2'], parsers),
    /--grid: 8 x 8 x 2 = 128 points exceeds the limit of 64/,
  );
});

test('points x seeds is bounded too', () => {
  const axes = parseGrid(['bottleneck=1,2,3,4,5,6,7,8', 'epochs=1,2,3,4,5,6,7,8'], parsers);
  checkRunCount(axes, MAX_SWEEP_RUNS / 64);
  assert.throws(() => checkRunCount(axes, MAX_SWEEP_RUNS / 64 + 1), /64 points x 6 seeds = 384 runs exceeds the limit of 320/);
});
