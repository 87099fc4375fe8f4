/** Pre-tokenized JSONL: validation messages, label resolution, batching and collation. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { collate, DataError, makeBatches, readTokenizedJsonl, resolveLabels, type ReadOptions, type TokenizedRow } from '../../../trainer/train/data.ts';

const dir = mkdtempSync(join(tmpdir(), 'train-data-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const opts: ReadOptions = { vocabSize: 50, maxPositions: 8, typeVocabSize: 2, requireLabels: true };
let fileCount = 0;
const file = (text: string): string => {
  const p = join(dir, `f${fileCount++}.jsonl`);
  writeFileSync(p, text);
  return p;
};
const jsonl = (...rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const row = (label: string | number | null, line: number, ids = [2]): TokenizedRow => ({ inputIds: Int32Array.from(ids), tokenTypeIds: new Int32Array(ids.length), label, line });

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

test('reads rows: blank lines skipped, CRLF and a BOM accepted, token types default to 0, 1-based lines', async () => {
  const p = file('\ufeff{"input_ids":[2,5,9],"label":"b"}\r\n\r\n   \n{"input_ids":[2,4],"token_type_ids":[0,1],"label":3}\n');
  const rows = await readTokenizedJsonl(p, opts);
  assert.equal(rows.length, 2);
  assert.ok(rows[0].inputIds instanceof Int32Array);
  assert.deepEqual([...rows[0].inputIds], [2, 5, 9]);
  assert.deepEqual([...rows[0].tokenTypeIds], [0, 0, 0]);
  assert.deepEqual([...rows[1].tokenTypeIds], [0, 1]);
  assert.deepEqual([rows[0].label, rows[0].line, rows[1].label, rows[1].line], ['b', 1, 3, 4]);
});

test('labels may be absent (or null) when not required', async () => {
  const rows = await readTokenizedJsonl(file(jsonl({ input_ids: [2] }, { input_ids: [3], label: null })), { ...opts, requireLabels: false });
  assert.deepEqual(rows.map((r) => r.label), [null, null]);
});

test('every bad row is named by <file>:<line> with the precise problem', async () => {
  const bert = { vocabSize: 30522, maxPositions: 512, typeVocabSize: 2, requireLabels: true };
  const cases: [string, string | RegExp, ReadOptions?][] = [
    ['{"input_ids":[2,5],"label":"a"}\n{"input_ids": [2,', /^:2: malformed JSON \(/],
    ['[1,2]', ':1: each line must be a JSON object'],
    ['{"label":"a"}', ':1: missing field "input_ids"'],
    ['{"text":"hello","label":"a"}', ':1: missing field "input_ids" (text rows need a tokenizer, and none was given)'],
    ['{"input_ids":"2 5","label":"a"}', ':1: field "input_ids" must be an array of integers'],
    ['{"input_ids":[2,1.5],"label":"a"}', ':1: field "input_ids" must be an array of integers (position 1 is 1.5)'],
    ['{"input_ids":[2,"7"],"label":"a"}', ':1: field "input_ids" must be an array of integers (position 1 is "7")'],
    ['{"input_ids":[],"label":"a"}', ':1: field "input_ids" is empty'],
    [jsonl({ input_ids: [101, 1, 2, 3, 4, 30522], label: 'a' }), ':1: token id 30522 at position 5 is outside the vocabulary [0, 30522)', bert],
    ['{"input_ids":[2,-1],"label":"a"}', ':1: token id -1 at position 1 is outside the vocabulary [0, 50)'],
    ['{"input_ids":[2,5],"token_type_ids":[0,2],"label":"a"}', ':1: token type id 2 at position 1 is outside the token type range [0, 2)'],
    ['{"input_ids":[2,5],"token_type_ids":[0],"label":"a"}', ':1: "token_type_ids" has 1 entries but "input_ids" has 2'],
    [jsonl({ input_ids: Array(600).fill(5), label: 'a' }), ':1: sequence of 600 tokens exceeds max_position_embeddings 512', bert],
    ['{"input_ids":[2,5]}', ':1: missing field "label"'],
    ['{"input_ids":[2,5],"label":true}', ':1: field "label" must be a non-empty string or an integer >= 0, got true'],
    ['{"input_ids":[2,5],"label":-1}', /:1: field "label" must be .* got -1$/],
    ['{"input_ids":[2,5],"label":0.5}', /:1: field "label" must be .* got 0\.5$/],
    ['{"input_ids":[2,5],"label":""}', /:1: field "label" must be .* got ""$/],
  ];
  for (const [text, expected, o] of cases) {
    const p = file(text + '\n');
    await assert.rejects(
      readTokenizedJsonl(p, o ?? opts),
      (e: Error) => {
        assert.ok(e instanceof DataError, `${text}: ${e}`);
        assert.ok(e.message.startsWith(p + ':'), e.message);
        const rest = e.message.slice(p.length);
        if (typeof expected === 'string') assert.equal(rest, expected);
        else assert.match(rest, expected);
        return true;
      },
      text,
    );
  }
});

test('whole-file problems: empty file, only blank lines, missing file, a directory', async () => {
  for (const [text, message] of [['', 'empty file (no rows)'], ['\n\n  \n', 'no rows']]) {
    const p = file(text);
    await assert.rejects(readTokenizedJsonl(p, opts), (e: Error) => e instanceof DataError && e.message === `${p}: ${message}`);
  }
  const missing = join(dir, 'missing.jsonl');
  await assert.rejects(readTokenizedJsonl(missing, opts), (e: Error) => e instanceof DataError && e.message === `${missing}: cannot read (ENOENT)`);
  const sub = join(dir, 'sub.jsonl');
  mkdirSync(sub);
  await assert.rejects(readTokenizedJsonl(sub, opts), (e: Error) => e instanceof DataError && e.message === `${sub}: not a file`);
});

test('a tokenizer plugs in for text rows, and its output is validated like input_ids', async () => {
  const tokenizer = {
    encode: (text: string, pair?: string) => {
      const a = text.split(' ').map((w) => w.length + 1);
      const b = pair ? pair.split(' ').map((w) => w.length + 1) : [];
      return { inputIds: [...a, ...b], tokenTypeIds: [...a.map(() => 0), ...b.map(() => 1)] };
    },
  };
  const p = file(jsonl({ text: 'ab c', label: 'x' }, { text: 'a', text_pair: 'abc', label: 'y' }, { input_ids: [7], label: 'x' }));
  const rows = await readTokenizedJsonl(p, { ...opts, tokenizer });
  assert.deepEqual(rows.map((r) => [...r.inputIds]), [[3, 2], [2, 4], [7]]);
  assert.deepEqual([...rows[1].tokenTypeIds], [0, 1]);
  const long = file(jsonl({ text: 'a'.repeat(60), label: 'x' }));
  await assert.rejects(readTokenizedJsonl(long, { ...opts, tokenizer }), /:1: token id 61 at position 0 is outside the vocabulary \[0, 50\)/);
  await assert.rejects(readTokenizedJsonl(file(jsonl({ text: 5, label: 'x' })), { ...opts, tokenizer }), /:1: field "text" must be a string/);
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
  assert.throws(() => resolveLabels([row('x', 1), row('x', 2)], undefined, 'd.jsonl'), { name: 'DataError', message: 'd.jsonl: only one label ("x") occurs; a classifier needs at least two (pass --labels)' });
  assert.throws(() => resolveLabels([row(0, 1), row(0, 2)], undefined, 'd.jsonl'), /d\.jsonl: only one label \("0"\) occurs/);
  assert.throws(
    () => resolveLabels([row('a', 1), row('b', 2), row(1, 7)], undefined, 'd.jsonl'),
    { message: 'd.jsonl:7: label 1 is an integer but line 1 has a string; use one kind, or pass --labels' },
  );
  assert.throws(() => resolveLabels([row(0, 1), row(1e9, 2)], undefined, 'd.jsonl'), /d\.jsonl:2: integer label 1000000000 is too large/);
  assert.throws(() => resolveLabels([row(0, 1), row(1, 2), row(null, 3)], undefined, 'd.jsonl'), { name: 'DataError', message: 'd.jsonl:3: missing field "label"' });
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

test('batches cover every row exactly once, in order unless shuffled; dropLast drops the short tail', () => {
  for (const [n, size] of [[10, 4], [10, 5], [10, 1], [3, 10], [11, 3]]) {
    const items = Array.from({ length: n }, (_, i) => i);
    const plain = makeBatches(items, size, { shuffle: false });
    assert.deepEqual(plain.flat(), items, `${n}/${size} in order`);
    assert.ok(plain.slice(0, -1).every((b) => b.length === size) && plain.at(-1)!.length <= size);
    const shuffled = makeBatches(items, size, { shuffle: true, rng: new TestRng(n) });
    assert.deepEqual(shuffled.flat().sort((a, b) => a - b), items, `${n}/${size} shuffled`);
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
