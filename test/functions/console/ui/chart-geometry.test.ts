import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTick, niceTicks, scale } from '../../../../functions/console/ui/chart-geometry.ts';

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
