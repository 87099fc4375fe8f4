/** --validation-split: deterministic given the seed, both sides non-empty, file order kept. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitValidation } from '../../../trainer/train/validation-split.ts';
import { Rng } from '../../../trainer/util/random.ts';

const rows = Array.from({ length: 100 }, (_, i) => i);

test('the same seed gives the same split; another seed another; sizes are round(n * fraction)', () => {
  const a = splitValidation(rows, 0.1, 42);
  assert.deepEqual(splitValidation(rows, 0.1, 42), a);
  assert.equal(a.validation.length, 10);
  assert.equal(a.train.length, 90);
  assert.deepEqual(
    [...a.train, ...a.validation].sort((x, y) => x - y),
    rows,
    'every row on exactly one side',
  );
  assert.deepEqual(
    a.train,
    [...a.train].sort((x, y) => x - y),
    'file order kept',
  );
  assert.deepEqual(
    a.validation,
    [...a.validation].sort((x, y) => x - y),
  );
  assert.notDeepEqual(splitValidation(rows, 0.1, 43).validation, a.validation);
  assert.notDeepEqual(a.validation, rows.slice(0, 10), 'shuffled, not the first rows');
  assert.equal(splitValidation(rows, 0.333, 1).validation.length, 33);
});

test('pinned: the split is stable across runs and releases (and the same as the trainer made before)', () => {
  assert.deepEqual(splitValidation(rows, 0.1, 42).validation, [1, 5, 11, 13, 18, 30, 33, 55, 65, 85]);
  // The trainer's original algorithm, inline: shuffle indices with Rng(seed), hold out the first k.
  const order = new Rng(7).shuffle(rows.map((_, i) => i));
  const held = new Set(order.slice(0, 25));
  assert.deepEqual(
    splitValidation(rows, 0.25, 7).validation,
    rows.filter((i) => held.has(i)),
  );
});

test('an rng may be passed instead of a seed', () => {
  assert.deepEqual(splitValidation(rows, 0.2, new Rng(5)), splitValidation(rows, 0.2, 5));
  const reverse = { shuffle: <T>(a: T[]): T[] => a.reverse() };
  assert.deepEqual(splitValidation([1, 2, 3, 4], 0.5, reverse), { train: [1, 2], validation: [3, 4] });
});

test('small data: at least one row on each side, else a clear error', () => {
  assert.deepEqual(splitValidation(['a', 'b'], 0.01, 1).validation.length, 1, 'rounds up to one held-out row');
  assert.deepEqual(splitValidation(['a', 'b'], 0.5, 1).train.length, 1);
  assert.throws(() => splitValidation(['a', 'b', 'c'], 0.9, 1), {
    name: 'DataError',
    message: '--validation-split 0.9 leaves no training rows out of 3',
  });
  assert.throws(() => splitValidation(['a'], 0.5, 1), {
    name: 'DataError',
    message: '--validation-split needs at least 2 rows to split, got 1',
  });
  for (const f of [0, 1, -0.1, 1.5, Number.NaN]) {
    assert.throws(() => splitValidation(rows, f, 1), { name: 'DataError', message: `--validation-split must be in (0, 1), got ${f}` });
  }
});

test('a split holds out at most maxHeld rows (a job evaluation cap); the rest train', () => {
  const capped = splitValidation(rows, 0.5, 42, 10);
  assert.equal(capped.validation.length, 10);
  assert.equal(capped.train.length, 90);
  assert.deepEqual(splitValidation(rows, 0.1, 42, 10), splitValidation(rows, 0.1, 42), 'under the cap, the same split as ever');
});
