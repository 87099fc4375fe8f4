import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ema, formatTick, niceTicks, scale, scaleAll } from '../../../../functions/console/ui/chart-geometry.ts';

test('niceTicks: round steps covering the range', () => {
  assert.deepEqual(niceTicks(0, 100, 5), [0, 20, 40, 60, 80, 100]);
  assert.deepEqual(niceTicks(0.61, 0.93, 4), [0.6, 0.7, 0.8, 0.9, 1]);
  assert.deepEqual(niceTicks(3, 3, 4), [2.6, 2.8, 3, 3.2, 3.4], 'a flat series gets a range around it');
  assert.deepEqual(niceTicks(Number.NaN, 1), []);
  const t = niceTicks(1e-5, 3e-3, 4);
  assert.ok(t[0] <= 1e-5 && t[t.length - 1] >= 3e-3);
});

test('scale: points land in the box, y upwards, the first point a move', () => {
  const box = { left: 10, top: 0, width: 100, height: 50 };
  const g = scale(
    [
      { x: 0, y: 0 },
      { x: 50, y: 1 },
      { x: 100, y: Number.NaN },
    ],
    box,
  );
  // x ticks 0..60 (the NaN point dropped), y ticks 0..1.
  assert.equal(g.xTicks[0].value, 0);
  assert.equal(g.xTicks.at(-1)!.at, 110);
  assert.equal(g.yTicks[0].at, 50, 'the lowest tick at the bottom');
  assert.equal(g.path, `M10,50L${10 + (50 / g.xTicks.at(-1)!.value) * 100},0`);
  assert.equal(scale([], box).path, '');
});

test('formatTick: short labels without float noise', () => {
  assert.equal(formatTick(0.30000000000000004), '0.3');
  assert.equal(formatTick(0.00012), '1.2e-4');
  assert.equal(formatTick(0), '0');
  assert.equal(formatTick(200), '200');
});

test('ema: a bias-corrected moving average (the first point kept, a step approached, not jumped to)', () => {
  const pts = [0, 1, 2, 3].map((x) => ({ x, y: x === 0 ? 1 : 0 }));
  const s = ema(pts, 0.5);
  assert.deepEqual(
    s.map((p) => p.x),
    [0, 1, 2, 3],
  );
  assert.equal(s[0].y, 1, 'no pull towards zero at the start');
  // avg_n = 0.5 avg_{n-1} + 0.5 y_n (0.5, 0.25, 0.125, ...), divided by 1 - 0.5^n.
  assert.ok(Math.abs(s[1].y - 0.25 / 0.75) < 1e-12);
  assert.ok(Math.abs(s[2].y - 0.125 / 0.875) < 1e-12);
  assert.ok(s[3].y < s[2].y && s[3].y > 0);
  assert.deepEqual(ema(pts, 0), pts, 'weight 0: unchanged');
  assert.deepEqual(ema([{ x: 0, y: Number.NaN }]), []);
});

test('scaleAll: series share the axes, one path each', () => {
  const box = { left: 0, top: 0, width: 100, height: 100 };
  const g = scaleAll(
    [
      [
        { x: 0, y: 0 },
        { x: 10, y: 10 },
      ],
      [{ x: 5, y: 5 }],
    ],
    box,
  );
  assert.equal(g.paths.length, 2);
  assert.equal(g.paths[0], 'M0,100L100,0');
  assert.equal(g.paths[1], 'M50,50');
  assert.deepEqual(scaleAll([[], []], box).paths, ['', '']);
});

test('a range within float noise is drawn as flat, never as NaN', () => {
  const t = niceTicks(0.8, 0.8000000000000002, 4);
  assert.ok(t.length >= 2 && t[0] < 0.8 && t.at(-1)! > 0.8, JSON.stringify(t));
  const g = scale(
    [
      { x: 1, y: 0.8 },
      { x: 2, y: 0.8000000000000002 },
    ],
    { left: 0, top: 0, width: 100, height: 100 },
  );
  assert.doesNotMatch(g.path + JSON.stringify(g.yTicks), /NaN/);
});
