/** Overlapping byte ranges: found with the pair named, empty ranges and touching ranges are fine. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstOverlap } from '../../../trainer/model-files/tensor-ranges.ts';

test('the first overlapping pair is named; touching, empty and unsorted ranges are not overlaps', () => {
  assert.equal(
    firstOverlap([
      { name: 'b', begin: 8, end: 16 },
      { name: 'a', begin: 0, end: 8 },
      { name: 'empty', begin: 4, end: 4 },
    ]),
    null,
  );
  assert.equal(
    firstOverlap([
      { name: 'a', begin: 0, end: 100 },
      { name: 'b', begin: 10, end: 20 },
      { name: 'c', begin: 50, end: 60 },
    ]),
    'tensors "a" [0, 100) and "b" [10, 20) overlap (no byte of the data may belong to two)',
  );
  // A range nested in an earlier, longer one is still caught after a shorter one in between.
  assert.match(
    firstOverlap(
      [
        { name: 'long', begin: 0, end: 100 },
        { name: 'x', begin: 100, end: 101 },
        { name: 'nested', begin: 90, end: 95 },
      ],
      'ZIP entries',
    ) ?? '',
    /^ZIP entries "long" \[0, 100\) and "nested" \[90, 95\) overlap \(no byte of the data may belong to two\)$/,
  );
});
