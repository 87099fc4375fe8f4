/** Pre-tokenized JSONL read through readDataset: validation messages, 1-based lines, a tokenizer for text rows. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readDataset } from '../../../shared/training-data/dataset.ts';
import { DataError } from '../../../shared/training-data/errors.ts';
import type { ReadOptions, TokenizedRow } from '../../../shared/training-data/rows.ts';

const dir = mkdtempSync(join(tmpdir(), 'jsonl-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const opts: ReadOptions = { vocabSize: 50, maxPositions: 8, typeVocabSize: 2, requireLabels: true };
let fileCount = 0;
const file = (text: string): string => {
  const p = join(dir, `f${fileCount++}.jsonl`);
  writeFileSync(p, text);
  return p;
};
const jsonl = (...rows: unknown[]): string => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
/** Every row validated, the first bad one fails (no skipping). */
const readJsonl = async (path: string, o: ReadOptions): Promise<TokenizedRow[]> =>
  (await readDataset(path, { ...o, format: 'jsonl' })).rows;

test('reads rows: blank lines skipped, CRLF and a BOM accepted, token types default to 0, 1-based lines', async () => {
  const p = file('\ufeff{"input_ids":[2,5,9],"label":"b"}\r\n\r\n   \n{"input_ids":[2,4],"token_type_ids":[0,1],"label":3}\n');
  const rows = await readJsonl(p, opts);
  assert.equal(rows.length, 2);
  assert.ok(rows[0].inputIds instanceof Int32Array);
  assert.deepEqual([...rows[0].inputIds], [2, 5, 9]);
  assert.deepEqual([...rows[0].tokenTypeIds], [0, 0, 0]);
  assert.deepEqual([...rows[1].tokenTypeIds], [0, 1]);
  assert.deepEqual([rows[0].label, rows[0].line, rows[1].label, rows[1].line], ['b', 1, 3, 4]);
});

test('labels may be absent (or null) when not required', async () => {
  const rows = await readJsonl(file(jsonl({ input_ids: [2] }, { input_ids: [3], label: null })), { ...opts, requireLabels: false });
  assert.deepEqual(
    rows.map((r) => r.label),
    [null, null],
  );
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
    [
      jsonl({ input_ids: [101, 1, 2, 3, 4, 30522], label: 'a' }),
      ':1: token id 30522 at position 5 is outside the vocabulary [0, 30522)',
      bert,
    ],
    ['{"input_ids":[2,-1],"label":"a"}', ':1: token id -1 at position 1 is outside the vocabulary [0, 50)'],
    ['{"input_ids":[2,5],"token_type_ids":[0,2],"label":"a"}', ':1: token type id 2 at position 1 is outside the token type range [0, 2)'],
    ['{"input_ids":[2,5],"token_type_ids":[0],"label":"a"}', ':1: "token_type_ids" has 1 entries but "input_ids" has 2'],
    [
      jsonl({ input_ids: Array(600).fill(5), label: 'a' }),
      ":1: sequence of 600 tokens exceeds the base's longest sequence, 512 tokens",
      bert,
    ],
    ['{"input_ids":[2,5]}', ':1: missing field "label"'],
    ['{"input_ids":[2,5],"label":true}', ':1: field "label" must be a non-empty string or an integer >= 0, got true'],
    ['{"input_ids":[2,5],"label":-1}', /:1: field "label" must be .* got -1$/],
    ['{"input_ids":[2,5],"label":0.5}', /:1: field "label" must be .* got 0\.5$/],
    ['{"input_ids":[2,5],"label":""}', /:1: field "label" must be .* got ""$/],
  ];
  for (const [text, expected, o] of cases) {
    const p = file(`${text}\n`);
    await assert.rejects(
      readJsonl(p, o ?? opts),
      (e: Error) => {
        assert.ok(e instanceof DataError, `${text}: ${e}`);
        assert.ok(e.message.startsWith(`${p}:`), e.message);
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
  for (const [text, message] of [
    ['', 'empty file (no rows)'],
    ['\n\n  \n', 'no rows'],
  ]) {
    const p = file(text);
    await assert.rejects(readJsonl(p, opts), (e: Error) => e instanceof DataError && e.message === `${p}: ${message}`);
  }
  const missing = join(dir, 'missing.jsonl');
  await assert.rejects(readJsonl(missing, opts), (e: Error) => e instanceof DataError && e.message === `${missing}: cannot read (ENOENT)`);
  const sub = join(dir, 'sub.jsonl');
  mkdirSync(sub);
  await assert.rejects(readJsonl(sub, opts), (e: Error) => e instanceof DataError && e.message === `${sub}: not a file`);
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
  const rows = await readJsonl(p, { ...opts, tokenizer });
  assert.deepEqual(
    rows.map((r) => [...r.inputIds]),
    [[3, 2], [2, 4], [7]],
  );
  assert.deepEqual([...rows[1].tokenTypeIds], [0, 1]);
  const long = file(jsonl({ text: 'a'.repeat(60), label: 'x' }));
  await assert.rejects(readJsonl(long, { ...opts, tokenizer }), /:1: token id 61 at position 0 is outside the vocabulary \[0, 50\)/);
  await assert.rejects(readJsonl(file(jsonl({ text: 5, label: 'x' })), { ...opts, tokenizer }), /:1: field "text" must be a string/);
});
