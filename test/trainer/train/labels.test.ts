/** Label resolution: from the data or given, every row checked before training. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TokenizedRow } from '../../../shared/training-data/rows.ts';
import { resolveLabels } from '../../../trainer/train/labels.ts';

const row = (label: string | number | null, line: number, ids = [2]): TokenizedRow => ({
  inputIds: Int32Array.from(ids),
  tokenTypeIds: new Int32Array(ids.length),
  label,
  line,
});

test('labels from the data: sorted distinct strings, or integer classes 0..max', () => {
  const strings = [row('pos', 1), row('neg', 2), row('neutral', 3), row('pos', 4)];
  const s = resolveLabels(strings);
  assert.deepEqual(s.labels, ['neg', 'neutral', 'pos']);
  assert.deepEqual(strings.map(s.labelIndex), [2, 0, 1, 2]);
  const ints = [row(3, 1), row(0, 2)];
  const i = resolveLabels(ints);
  assert.deepEqual(i.labels, ['0', '1', '2', '3'], 'classes that never occur still exist');
  assert.deepEqual(ints.map(i.labelIndex), [3, 0]);
});

test('labels from the data: one class, mixed kinds, absurd integers and missing labels are errors', () => {
  assert.throws(() => resolveLabels([row('x', 1), row('x', 2)], undefined, 'd.jsonl'), {
    name: 'DataError',
    message: 'd.jsonl: only one label ("x") occurs; a classifier needs at least two (pass --labels)',
  });
  assert.throws(() => resolveLabels([row(0, 1), row(0, 2)], undefined, 'd.jsonl'), /d\.jsonl: only one label \("0"\) occurs/);
  assert.throws(() => resolveLabels([row('a', 1), row('b', 2), row(1, 7)], undefined, 'd.jsonl'), {
    message: 'd.jsonl:7: label 1 is an integer but line 1 has a string; use one kind, or pass --labels',
  });
  assert.throws(
    () => resolveLabels([row(0, 1), row(1e9, 2)], undefined, 'd.jsonl'),
    /d\.jsonl:2: integer label 1000000000 means 1000000001 classes, over the limit of 1000/,
  );
  assert.throws(() => resolveLabels([row(0, 1), row(1, 2), row(null, 3)], undefined, 'd.jsonl'), {
    name: 'DataError',
    message: 'd.jsonl:3: missing field "label"',
  });
  assert.throws(() => resolveLabels([row(null, 1)], undefined, 'd.jsonl'), { message: 'd.jsonl: no row has a label' });
});

test('given labels (--labels or a warm-start adapter): names must be listed, integers must index the list', () => {
  const rows = [row('pos', 1), row(0, 2), row('neg', 3)];
  const g = resolveLabels(rows, ['pos', 'neg']);
  assert.deepEqual(g.labels, ['pos', 'neg'], 'given order is class order');
  assert.deepEqual(rows.map(g.labelIndex), [0, 0, 1]);
  assert.throws(() => resolveLabels([row('pos', 1), row('neg', 2)], ['pos', 'other'], 'v.jsonl'), {
    name: 'DataError',
    message: 'v.jsonl:2: label "neg" is not in the label set ["pos","other"]',
  });
  assert.throws(() => resolveLabels([row(1, 1), row(2, 5)], ['a', 'b'], 'v.jsonl'), {
    name: 'DataError',
    message: 'v.jsonl:5: integer label 2 is not a class index in [0, 2) of the label set ["a","b"]',
  });
  // Integer data trained without --labels gets names "0".."n"; reusing those names accepts both kinds.
  const warm = resolveLabels([row(1, 1), row('0', 2)], ['0', '1']);
  assert.deepEqual([warm.labelIndex(row(1, 1)), warm.labelIndex(row('0', 2))], [1, 0]);
  assert.throws(() => resolveLabels(rows, ['pos']), /--labels: need at least two labels/);
  assert.throws(() => resolveLabels(rows, ['pos', 'pos']), /--labels: duplicate label names/);
  assert.throws(() => resolveLabels(rows, ['pos', '']), /--labels: empty label name/);
});

test('labels from the data: past 1,000 distinct names or 256 characters a name, the run is refused at the line', () => {
  // The review's recipes: 200,000 distinct labels, and one label of 500,000 characters.
  const many = Array.from({ length: 200_000 }, (_, i) => row(`class-${i}`, i + 1));
  assert.throws(() => resolveLabels(many, undefined, 'd.csv'), {
    name: 'DataError',
    message: 'd.csv:1001: more than 1000 distinct labels, the limit (ADAPTER_STORE_MAX_LABELS)',
  });
  const long = [row('a', 1), row('x'.repeat(500_000), 2)];
  assert.throws(
    () => resolveLabels(long, undefined, 'd.csv'),
    /^DataError: d\.csv:2: label of 500000 characters \("x{32}\.\.\."\), over the limit of 256 \(ADAPTER_STORE_MAX_LABEL_CHARS\)$/,
  );
  // Exactly at the limits is fine.
  const edge = Array.from({ length: 1000 }, (_, i) => row(`${i}`.padStart(256, 'y'), i + 1));
  assert.equal(resolveLabels(edge).labels.length, 1000);
  assert.equal(resolveLabels([row(999, 1), row(0, 2)]).labels.length, 1000);
});

test('a given label list (--labels, a warm start) is held to the same limits; the limits are settable', () => {
  const given = Array.from({ length: 1001 }, (_, i) => `c${i}`);
  assert.throws(() => resolveLabels([row('c0', 1)], given, 'd.csv'), {
    message: '--labels: more than 1000 distinct labels, the limit (ADAPTER_STORE_MAX_LABELS)',
  });
  assert.throws(
    () => resolveLabels([row('a', 1)], ['a', 'b'.repeat(257)], 'd.csv'),
    /^DataError: --labels: label 2: label of 257 characters/,
  );
  const tight = { maxLabels: 2, maxLabelChars: 3 };
  assert.throws(
    () => resolveLabels([row('a', 1), row('b', 2), row('c', 3)], undefined, 'd.csv', tight),
    /d\.csv:3: more than 2 distinct labels/,
  );
  assert.throws(() => resolveLabels([row('a', 1), row('long', 2)], undefined, 'd.csv', tight), /d\.csv:2: label of 4 characters/);
  assert.throws(
    () => resolveLabels([row(0, 1), row(2, 2)], undefined, 'd.csv', tight),
    /d\.csv:2: integer label 2 means 3 classes, over the limit of 2/,
  );
});
