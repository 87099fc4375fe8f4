/** Best-point selection: mean over seeds, failed seeds, loss minimised, and every tie rule in order. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectBest, summarize } from '../../../trainer/sweep/select.ts';

const pt = (values: (number | null)[], trainablePercent = 1) => ({ values, trainablePercent });

test('the highest mean over seeds wins, not the single best seed', () => {
  // Point 0 has the best single run (0.95) but the lower mean; point 1 wins, its best seed is the second.
  assert.deepEqual(selectBest([pt([0.95, 0.5, 0.5]), pt([0.8, 0.85, 0.7])], false), { point: 1, seed: 1 });
});

test('loss is minimised', () => {
  assert.deepEqual(selectBest([pt([0.4, 0.6]), pt([0.5, 0.45])], true), { point: 1, seed: 1 });
});

test('a point with a failed seed cannot win; none finished gives null', () => {
  assert.deepEqual(selectBest([pt([0.9, null]), pt([0.6, 0.6])], false), { point: 1, seed: 0 });
  assert.equal(selectBest([pt([null]), pt([])], false), null);
});

test('ties: fewer trainable parameters, then smaller spread, then the point listed first', () => {
  assert.deepEqual(selectBest([pt([0.8, 0.8], 3.6), pt([0.7, 0.9], 0.5)], false), { point: 1, seed: 1 }, 'cheaper adapter');
  assert.deepEqual(selectBest([pt([0.7, 0.9], 1), pt([0.8, 0.8], 1)], false), { point: 1, seed: 0 }, 'smaller spread');
  assert.deepEqual(selectBest([pt([0.8, 0.8]), pt([0.8, 0.8])], false), { point: 0, seed: 0 }, 'listed first');
});

test('within the winning point, equal seeds go to the seed listed first', () => {
  assert.deepEqual(selectBest([pt([0.6, 0.9, 0.9])], false), { point: 0, seed: 1 });
});

test('summaries: mean, population std and range over finished seeds', () => {
  const s = summarize([0.5, null, 0.7])!;
  assert.ok(Math.abs(s.mean - 0.6) < 1e-12);
  assert.ok(Math.abs(s.std - 0.1) < 1e-12);
  assert.deepEqual([s.min, s.max, s.n], [0.5, 0.7, 2]);
  assert.equal(summarize([null]), null);
});
