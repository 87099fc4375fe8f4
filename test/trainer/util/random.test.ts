import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../../trainer/util/random.ts';

const draw = (rng: Rng, n: number, f: (r: Rng) => number) => Array.from({ length: n }, () => f(rng));

test('same seed, same stream; different seeds (incl. high bits) differ', () => {
  assert.deepEqual(
    draw(new Rng(42), 20, (r) => r.nextUint32()),
    draw(new Rng(42), 20, (r) => r.nextUint32()),
  );
  assert.notDeepEqual(
    draw(new Rng(42), 20, (r) => r.nextUint32()),
    draw(new Rng(43), 20, (r) => r.nextUint32()),
  );
  assert.notDeepEqual(
    draw(new Rng(1), 20, (r) => r.nextUint32()),
    draw(new Rng(2 ** 32 + 1), 20, (r) => r.nextUint32()),
  );
  assert.notDeepEqual(
    draw(new Rng(1), 20, (r) => r.nextUint32()),
    draw(new Rng(-1), 20, (r) => r.nextUint32()),
  );
});

test('the stream is pinned (a changed generator would silently change every random checkpoint)', () => {
  assert.deepEqual(
    draw(new Rng(0), 3, (r) => r.nextUint32()),
    PINNED_SEED0,
  );
});
// First outputs of sfc32 seeded (a=0, b=0, c=0, d=1) after 15 warm-up rounds.
const PINNED_SEED0 = [4216505632, 947923937, 2491578854];

test('uniform is in [0, 1) with mean 1/2', () => {
  const xs = draw(new Rng(1), 100_000, (r) => r.uniform());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean}`);
});

test('normal has mean 0 and std 1', () => {
  const xs = draw(new Rng(2), 200_000, (r) => r.normal());
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.01, `std ${std}`);
});

test('truncatedNormal stays within ±2 std', () => {
  const xs = draw(new Rng(3), 50_000, (r) => r.truncatedNormal(0.5));
  assert.ok(xs.every((x) => Math.abs(x) <= 1));
  const std = Math.sqrt(xs.reduce((a, b) => a + b * b, 0) / xs.length);
  // std of a standard normal truncated at ±2 is 0.8796
  assert.ok(Math.abs(std - 0.5 * 0.8796) < 0.01, `std ${std}`);
});

test('int(n) covers [0, n) evenly and rejects bad n', () => {
  const counts = new Array<number>(7).fill(0);
  const rng = new Rng(4);
  for (let i = 0; i < 70_000; i++) counts[rng.int(7)]++;
  assert.ok(
    counts.every((c) => Math.abs(c - 10_000) < 400),
    String(counts),
  );
  assert.equal(rng.int(1), 0);
  assert.throws(() => rng.int(0), RangeError);
  assert.throws(() => rng.int(2.5), RangeError);
  assert.throws(() => new Rng(0.5), RangeError);
});

test('shuffle is a deterministic permutation, in place', () => {
  const a = Array.from({ length: 50 }, (_, i) => i);
  const b = new Rng(5).shuffle(a);
  assert.equal(b, a);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.notDeepEqual(
    a,
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.deepEqual(new Rng(5).shuffle(Array.from({ length: 50 }, (_, i) => i)), a);
});

test('getState/setState continue the exact same sequence', () => {
  const a = new Rng(77);
  a.normal();
  const saved = a.getState();
  const expected = [a.uniform(), a.normal(), a.normal(), a.int(10)];
  const b = new Rng(1);
  b.setState(JSON.parse(JSON.stringify(saved)));
  assert.deepEqual([b.uniform(), b.normal(), b.normal(), b.int(10)], expected);
});
