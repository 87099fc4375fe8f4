import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TokenizedRow } from '../../../shared/training-data/rows.ts';
import { bucketedBatches, collate, makeBatches, paddedTokens } from '../../../trainer/train/batching.ts';
import { resolveLabels } from '../../../trainer/train/labels.ts';
import { Rng } from '../../../trainer/util/random.ts';

const lengths = Array.from({ length: 1000 }, (_, i) => 3 + ((i * 7919) % 60));

test('bucketed batches cover every row once and are deterministic per seed', () => {
  const a = bucketedBatches(lengths, 16, new Rng(1), 10);
  assert.deepEqual(
    a.flat().sort((x, y) => x - y),
    lengths.map((_, i) => i),
  );
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

/** A seeded Fisher–Yates shuffler (mulberry32), independent of trainer/util/random.ts. */
class TestRng {
  constructor(private s: number) {}
  private next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

test('batches cover every row exactly once, in order unless shuffled; dropLast drops the short tail', () => {
  for (const [n, size] of [
    [10, 4],
    [10, 5],
    [10, 1],
    [3, 10],
    [11, 3],
  ]) {
    const items = Array.from({ length: n }, (_, i) => i);
    const plain = makeBatches(items, size, { shuffle: false });
    assert.deepEqual(plain.flat(), items, `${n}/${size} in order`);
    assert.ok(plain.slice(0, -1).every((b) => b.length === size) && plain.at(-1)!.length <= size);
    const shuffled = makeBatches(items, size, { shuffle: true, rng: new TestRng(n) });
    assert.deepEqual(
      shuffled.flat().sort((a, b) => a - b),
      items,
      `${n}/${size} shuffled`,
    );
    const dropped = makeBatches(items, size, { shuffle: false, dropLast: true });
    assert.deepEqual(dropped.flat(), items.slice(0, n - (n % size)));
    assert.ok(dropped.every((b) => b.length === size));
  }
  assert.deepEqual(makeBatches([], 4, { shuffle: false }), []);
  assert.throws(() => makeBatches([1], 0, { shuffle: false }), RangeError);
  assert.throws(() => makeBatches([1], 1.5, { shuffle: false }), RangeError);
  assert.throws(() => makeBatches([1, 2], 1, { shuffle: true }), /shuffle needs an rng/);
});

test('shuffling is deterministic given the rng state, and differs across seeds and epochs', () => {
  const items = Array.from({ length: 20 }, (_, i) => i);
  const a = makeBatches(items, 6, { shuffle: true, rng: new TestRng(5) });
  assert.deepEqual(makeBatches(items, 6, { shuffle: true, rng: new TestRng(5) }), a);
  assert.notDeepEqual(makeBatches(items, 6, { shuffle: true, rng: new TestRng(6) }), a);
  assert.notDeepEqual(a.flat(), items);
  const rng = new TestRng(5);
  const epoch1 = makeBatches(items, 6, { shuffle: true, rng });
  const epoch2 = makeBatches(items, 6, { shuffle: true, rng });
  assert.deepEqual(epoch1, a);
  assert.notDeepEqual(epoch2, epoch1, 'the rng advances between epochs');
});

test('collate pads each batch to its own longest row: ids 0, types 0, mask 0, row-major', () => {
  const rows: TokenizedRow[] = [
    { inputIds: Int32Array.from([2, 7, 9]), tokenTypeIds: Int32Array.from([0, 0, 1]), label: 'a', line: 1 },
    { inputIds: Int32Array.from([2, 4]), tokenTypeIds: Int32Array.from([0, 1]), label: 'b', line: 2 },
    { inputIds: Int32Array.from([3]), tokenTypeIds: Int32Array.from([1]), label: 'a', line: 3 },
  ];
  const { labelIndex } = resolveLabels(rows);
  const batch = collate(rows, labelIndex);
  assert.deepEqual([batch.batchSize, batch.seqLen], [3, 3]);
  assert.ok(batch.inputIds instanceof BigInt64Array && batch.tokenTypeIds instanceof BigInt64Array);
  assert.ok(batch.attentionMask instanceof Float32Array);
  assert.deepEqual([...batch.inputIds], [2n, 7n, 9n, 2n, 4n, 0n, 3n, 0n, 0n]);
  assert.deepEqual([...batch.tokenTypeIds], [0n, 0n, 1n, 0n, 1n, 0n, 1n, 0n, 0n]);
  assert.deepEqual([...batch.attentionMask], [1, 1, 1, 1, 1, 0, 1, 0, 0]);
  assert.deepEqual([...batch.labels!], [0n, 1n, 0n]);
  const short = collate(rows.slice(1));
  assert.equal(short.seqLen, 2, 'dynamic padding: a batch of short rows stays short');
  assert.deepEqual([...short.inputIds], [2n, 4n, 3n, 0n]);
  assert.equal(short.labels, null, 'no labelIndex, no labels (predict)');
  assert.throws(() => collate([]), RangeError);
});
