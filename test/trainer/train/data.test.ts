import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collate, DataError, makeBatches, readTokenizedJsonl, resolveLabels } from '../../../trainer/train/data.ts';
import { Rng } from '../../../trainer/util/random.ts';

const dir = mkdtempSync(join(tmpdir(), 'data-'));
const opts = { vocabSize: 50, maxPositions: 8, typeVocabSize: 2, requireLabels: true };
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('reads rows, skipping blank lines, with token types defaulting to 0', async () => {
  const rows = await readTokenizedJsonl(file('ok.jsonl', '{"input_ids":[2,5,9],"label":"b"}\n\n{"input_ids":[2,4],"token_type_ids":[0,1],"label":"a"}\n'), opts);
  assert.equal(rows.length, 2);
  assert.deepEqual([...rows[0].tokenTypeIds], [0, 0, 0]);
  assert.equal(rows[1].line, 3);
});

test('every bad row is named by file:line with the field at fault', async () => {
  const cases: [string, RegExp][] = [
    ['{"input_ids":[2,5],"label":"a"}\n{"input_ids": [2,', /bad0\.jsonl:2: malformed JSON/],
    ['{"label":"a"}', /missing field "input_ids"/],
    ['{"text":"hello","label":"a"}', /need a tokenizer/],
    ['{"input_ids":[],"label":"a"}', /"input_ids" is empty/],
    ['{"input_ids":[2,1.5],"label":"a"}', /array of integers/],
    ['{"input_ids":[2,50],"label":"a"}', /token id 50 at position 1 is outside the vocabulary \[0, 50\)/],
    ['{"input_ids":[2,5],"token_type_ids":[0,2],"label":"a"}', /token type id 2/],
    ['{"input_ids":[2,5],"token_type_ids":[0],"label":"a"}', /has 1 entries/],
    ['{"input_ids":[1,1,1,1,1,1,1,1,1],"label":"a"}', /9 tokens exceeds max_position_embeddings 8/],
    ['{"input_ids":[2,5]}', /missing field "label"/],
    ['{"input_ids":[2,5],"label":true}', /"label" must be/],
    ['[1,2]', /JSON object/],
    ['', /no rows/],
  ];
  for (const [i, [text, pattern]] of cases.entries()) {
    const p = file(`bad${i}.jsonl`, text + '\n');
    await assert.rejects(readTokenizedJsonl(p, opts), (e: Error) => e instanceof DataError && pattern.test(e.message), text);
  }
  await assert.rejects(readTokenizedJsonl(join(dir, 'missing.jsonl'), opts), /ENOENT/);
});

test('labels: sorted strings from the data, integer classes 0..max, or given; outsiders rejected', async () => {
  const rows = await readTokenizedJsonl(file('l.jsonl', '{"input_ids":[2],"label":"pos"}\n{"input_ids":[2],"label":"neg"}\n'), opts);
  const fromData = resolveLabels(rows);
  assert.deepEqual(fromData.labels, ['neg', 'pos']);
  assert.equal(fromData.labelIndex(rows[0]), 1);
  assert.deepEqual(resolveLabels(rows, ['pos', 'neg']).labels, ['pos', 'neg']);
  assert.throws(() => resolveLabels(rows, ['pos', 'other'], 'l.jsonl'), /l\.jsonl:2: label "neg" is not in the label set/);
  const ints = await readTokenizedJsonl(file('i.jsonl', '{"input_ids":[2],"label":2}\n{"input_ids":[2],"label":0}\n'), opts);
  assert.deepEqual(resolveLabels(ints).labels, ['0', '1', '2']);
  assert.throws(() => resolveLabels(ints, ['a', 'b']), /label 2 is not in the label set/);
  const one = await readTokenizedJsonl(file('one.jsonl', '{"input_ids":[2],"label":"x"}\n'), opts);
  assert.throws(() => resolveLabels(one), /only one label/);
});

test('batches cover every row once; shuffling is deterministic per seed; collate pads and masks', async () => {
  const rows = Array.from({ length: 10 }, (_, i) => i);
  const a = makeBatches(rows, 4, { shuffle: true, rng: new Rng(5) });
  assert.deepEqual(a.map((b) => b.length), [4, 4, 2]);
  assert.deepEqual(a.flat().sort((x, y) => x - y), rows);
  assert.deepEqual(makeBatches(rows, 4, { shuffle: true, rng: new Rng(5) }), a);
  assert.notDeepEqual(makeBatches(rows, 4, { shuffle: true, rng: new Rng(6) }), a);
  const data = await readTokenizedJsonl(file('c.jsonl', '{"input_ids":[2,7,9],"label":"a"}\n{"input_ids":[2,4],"token_type_ids":[0,1],"label":"b"}\n'), opts);
  const { labelIndex } = resolveLabels(data);
  const batch = collate(data, labelIndex);
  assert.equal(batch.seqLen, 3);
  assert.deepEqual([...batch.inputIds], [2n, 7n, 9n, 2n, 4n, 0n]);
  assert.deepEqual([...batch.tokenTypeIds], [0n, 0n, 0n, 0n, 1n, 0n]);
  assert.deepEqual([...batch.attentionMask], [1, 1, 1, 1, 1, 0]);
  assert.deepEqual([...batch.labels!], [0n, 1n]);
});
