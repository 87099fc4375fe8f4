/** Best-point selection: mean over seeds, failed seeds, loss minimised, and every tie rule in order. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectBest, summarize } from '../../../trainer/sweep/select.ts';
import { Rng } from '../../../trainer/util/random.ts';

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

test('ties: the cheaper point wins over a later one with a smaller spread, in either order', () => {
  const cheapWide = pt([0.7, 0.9], 0.5);
  const dearNarrow = pt([0.8, 0.8], 3.6);
  assert.equal(selectBest([cheapWide, dearNarrow], false)!.point, 0, 'cost is compared before spread');
  assert.equal(selectBest([dearNarrow, cheapWide], false)!.point, 1, 'cost is compared before spread');
  // Loss minimised: the same rule for ties.
  assert.equal(selectBest([pt([0.3, 0.1], 1), pt([0.2, 0.2], 2)], true)!.point, 0);
});

test('the winner is the first of the points sorted by (mean, trainable share, spread, grid order), on 2,000 random grids full of ties', () => {
  const rng = new Rng(48);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  for (let trial = 0; trial < 2000; trial++) {
    const lowerIsBetter = rng.int(2) === 1;
    const seeds = 1 + rng.int(3);
    const points = Array.from({ length: 2 + rng.int(4) }, () =>
      pt(
        Array.from({ length: seeds }, () => (rng.int(12) === 0 ? null : pick([0.5, 0.6, 0.7, 0.8, 0.9]))),
        pick([0.5, 1, 3.6]),
      ),
    );
    const ranked = points
      .map((p, index) => ({ index, s: p.values.includes(null) ? null : summarize(p.values)!, share: p.trainablePercent }))
      .filter((r) => r.s !== null)
      .sort(
        (a, b) =>
          (lowerIsBetter ? a.s!.mean - b.s!.mean : b.s!.mean - a.s!.mean) || a.share - b.share || a.s!.std - b.s!.std || a.index - b.index,
      );
    const got = selectBest(points, lowerIsBetter);
    assert.equal(got?.point ?? null, ranked[0]?.index ?? null, JSON.stringify({ lowerIsBetter, points }));
  }
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
