import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketedBatches, paddedTokens } from '../../../trainer/train/batching.ts';
import { Rng } from '../../../trainer/util/random.ts';

const lengths = Array.from({ length: 1000 }, (_, i) => 3 + ((i * 7919) % 60));

test('bucketed batches cover every row once and are deterministic per seed', () => {
  const a = bucketedBatches(lengths, 16, new Rng(1), 10);
  assert.deepEqual(a.flat().sort((x, y) => x - y), lengths.map((_, i) => i));
  assert.deepEqual(bucketedBatches(lengths, 16, new Rng(1), 10), a);
  assert.notDeepEqual(bucketedBatches(lengths, 16, new Rng(2), 10), a);
});

test('bucketing pads far less than random batches', () => {
  const rng = new Rng(3);
  const random: number[][] = [];
  const order = rng.shuffle(lengths.map((_, i) => i));
  for (let i = 0; i < order.length; i += 16) random.push(order.slice(i, i + 16));
  const [bucketed, shuffled] = [paddedTokens(bucketedBatches(lengths, 16, new Rng(3), 10), lengths), paddedTokens(random, lengths)];
  const real = lengths.reduce((s, l) => s + l, 0);
  console.log(`# padded tokens: bucketed ${bucketed}, random ${shuffled}, real ${real}`);
  assert.ok(bucketed < 0.75 * shuffled);
  assert.ok(bucketed >= real);
});
