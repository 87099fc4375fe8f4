/** Every data error names the file, the line and the field; --max-bad-rows skips up to N bad rows and fails on the next. */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ReadDatasetOptions, readDataset } from '../../../shared/training-data/dataset.ts';
import { DataError } from '../../../shared/training-data/errors.ts';
import { waitUntil } from '../../support/wait.ts';
import { gzip, jsonl, opts, tempDir } from './helpers.ts';

const { dir, file } = tempDir('data-errors-');

/** Expects a DataError whose message is exactly `<file>` + `rest` (string) or matches `<file>` + rest (RegExp). */
async function fails(p: string, rest: string | RegExp, o: ReadDatasetOptions = opts): Promise<void> {
  await assert.rejects(
    readDataset(p, o),
    (e: Error) => {
      assert.ok(e instanceof DataError, String(e));
      assert.ok(e.message.startsWith(p), e.message);
      const tail = e.message.slice(p.length);
      if (typeof rest === 'string') assert.equal(tail, rest);
      else assert.match(tail, rest);
      return true;
    },
    p,
  );
}

type Case = [name: string, content: string | Uint8Array, rest: string | RegExp, o?: ReadDatasetOptions];

/** Writes each case's file and expects reading it (under its options) to fail with the rest of the message. */
async function failAll(cases: Case[]): Promise<void> {
  for (const [name, content, rest, o] of cases) await fails(file(name, content), rest, o);
}

const noTok = { ...opts, tokenizer: undefined };

test('JSONL rows: malformed JSON, not an object, missing or empty text, bad pair, bad label, token checks', async () => {
  const cases: [string, string | RegExp, ReadDatasetOptions?][] = [
    ['{"text":"a","label":"x"}\n{"text": "b", "label"\n', /^:2: malformed JSON \(.+\)$/],
    ['{"text":"a","label":"x"}\n[1,2]\n', ':2: each line must be a JSON object'],
    ['{"label":"x"}', ':1: missing field "text" (and no "input_ids")'],
    ['{"text":null,"label":"x"}', ':1: missing field "text" (and no "input_ids")'],
    ['{"text":"  ","label":"x"}', ':1: field "text" is empty'],
    ['{"text":7,"label":"x"}', ':1: field "text" must be a string'],
    ['{"text":"a","text_pair":["b"],"label":"x"}', ':1: field "text_pair" must be a string'],
    ['{"text":"a","text_pair":"","label":"x"}', ':1: field "text_pair" is empty'],
    ['{"text":"a"}', ':1: missing field "label"'],
    ['{"text":"a","label":1.5}', ':1: field "label" must be a non-empty string or an integer >= 0, got 1.5'],
    [`{"text":"${'a'.repeat(70)}","label":"x"}`, ":1: sequence of 72 tokens exceeds the base's longest sequence, 64 tokens"],
    ['{"input_ids":[1,300],"label":"x"}', ':1: token id 300 at position 1 is outside the vocabulary [0, 300)'],
    ['{"input_ids":[1,2],"token_type_ids":[0,2],"label":"x"}', ':1: token type id 2 at position 1 is outside the token type range [0, 2)'],
    ['{"text":"a","label":"x"}', ':1: missing field "input_ids" (text rows need a tokenizer, and none was given)', noTok],
    ['{"sentence":"a","label":"x"}', ':1: missing field "review" (and no "input_ids")', { ...opts, textColumn: 'review' }],
  ];
  let i = 0;
  for (const [text, rest, o] of cases) await fails(file(`row${i++}.jsonl`, `${text}\n`), rest, o);
});

test('a tokenizer failure is a bad row naming the field', async () => {
  const throwing = {
    ...opts,
    tokenizer: {
      encode: (): never => {
        throw new Error('boom');
      },
    },
  };
  await fails(file('tokfail.jsonl', jsonl({ text: 'a', label: 'x' })), ':1: cannot tokenize field "text": boom', throwing);
});

test('CSV/TSV rows: empty text cell, wrong field count, bad ids, a broken quote', async () => {
  await failAll([
    ['e1.csv', 'text,label\nok,a\n,b\n', ':3: empty column "text"'],
    ['e2.csv', 'text,label\nok,a\nx,b,c\n', ':3: has 3 fields but the header has 2'],
    ['e3.tsv', 'text\tlabel\nok\ta\nx,b\n', ':3: has 1 field but the header has 2 (is it CSV?)'],
    ['e4.csv', 'text,label\nok,\n', ':2: missing column "label"'],
    ['e5.csv', 'input_ids,label\n"[1,2",a\n', ':2: column "input_ids" must be a JSON array or space-separated integers, got "[1,2"', noTok],
    ['e6.csv', 'input_ids,label\n1 x 2,a\n', ':2: column "input_ids" must be an array of integers (position 1 is "x")', noTok],
    ['e7.csv', 'text,label\nok,a\n"open quote,b\nmore,c\n', /^:\d+: malformed CSV: Quote Not Closed/],
  ]);
});

test('CSV/TSV header: a missing column lists the header; an explicit pair or label column must exist', async () => {
  const unlabelled = { ...opts, requireLabels: false };
  await failAll([
    [
      'h1.csv',
      'sentence,label\nx,a\n',
      ':1: no column "text" (nor "input_ids") in the header; its columns are "sentence", "label" (--text-column names another)',
    ],
    ['h2.csv', 'text,y\nx,a\n', ':1: no column "label" in the header; its columns are "text", "y" (--label-column names another)'],
    [
      'h3.csv',
      'text\nx\n',
      ':1: no column "hyp" in the header; its columns are "text" (--text-pair-column names another)',
      { ...unlabelled, textPairColumn: 'hyp' },
    ],
    [
      'h4.csv',
      'text\nx\n',
      ':1: no column "y" in the header; its columns are "text" (--label-column names another)',
      { ...unlabelled, labelColumn: 'y' },
    ],
    ['h5.csv', 'text,label,text\nx,a,y\n', ':1: column "text" appears twice in the header'],
    ['h6.csv', '\n\ntext,label\n', ': no rows'],
  ]);
});

test('whole-file problems: empty, blank, missing, a directory, no rows after the header', async () => {
  await failAll([
    ['empty.jsonl', '', ': empty file (no rows)'],
    ['empty.csv', '', ': empty file (no rows)'],
    ['blank.jsonl', '\n  \n\n', ': no rows'],
    ['header-only.csv', 'text,label\n', ': no rows'],
    ['empty.jsonl.gz', gzip(''), ': empty file (after decompression) (no rows)'],
  ]);
  await fails(join(dir, 'missing.jsonl'), ': cannot read (ENOENT)');
  const sub = join(dir, 'sub.csv');
  mkdirSync(sub);
  await fails(sub, ': not a file');
});

test('a file that is not what its extension says is named with what it looks like', async () => {
  await failAll([
    [
      'json.csv',
      jsonl({ text: 'a', label: 'x' }),
      ':1: this does not look like CSV: it looks like JSON lines, starting "{\\"text\\":\\"a\\",\\"label\\":\\"x\\"}"; pass --format jsonl if it is',
    ],
    [
      'json.tsv',
      '\n[{"text":"a"}]\n',
      ':2: this does not look like TSV: it looks like a JSON array (JSON lines has one object per line), starting "[{\\"text\\":\\"a\\"}]"',
    ],
    [
      'csv.jsonl',
      'text,label\nhello,pos\n',
      ':1: this does not look like JSON lines: it looks like CSV, starting "text,label"; pass --format csv if it is',
    ],
    [
      'tsv.jsonl',
      'text\tlabel\nhello\tpos\n',
      ':1: this does not look like JSON lines: it looks like TSV (tab-separated), starting "text\\tlabel"; pass --format tsv if it is',
    ],
    [
      'array.json',
      '[\n  {"text": "a", "label": "x"}\n]\n',
      ':1: this does not look like JSON lines: it looks like a JSON array (JSON lines has one object per line), starting "["',
    ],
    [
      'page.jsonl',
      '<!DOCTYPE html><html>...',
      ':1: this does not look like JSON lines: it looks like HTML or XML, starting "<!DOCTYPE html><html>..."',
    ],
    ['prose.jsonl', 'just some words\n', ':1: this does not look like JSON lines: it looks like plain text, starting "just some words"'],
    [
      'tabs.csv',
      'text\tlabel\nx\ta\n',
      ':1: no column "text" (nor "input_ids") in the header; its columns are "text\\tlabel"; it looks like TSV (pass --format tsv if it is)',
    ],
    [
      'commas.tsv',
      'text,label\nx,a\n',
      ':1: no column "text" (nor "input_ids") in the header; its columns are "text,label"; it looks like CSV (pass --format csv if it is)',
    ],
    ['nul.jsonl', Buffer.from('{"text":"a"}\n\0\0\0\0'), ': not a text file: it looks like binary data (it contains NUL bytes)'],
    [
      'zip.csv',
      Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]),
      ': not a text file: it looks like a ZIP archive (an .xlsx workbook is one)',
    ],
    ['parquet.csv', Buffer.from('PAR1\x15\x04'), ': not a text file: it looks like a Parquet file'],
    ['utf16.csv', Buffer.from('\ufefftext,label\n', 'utf16le'), ': not a text file: it looks like UTF-16 text (save it as UTF-8)'],
    ['notgz.jsonl.gz', jsonl({ text: 'a', label: 'x' }), ': named .gz but is not gzip-compressed'],
  ]);
  const g = gzip(jsonl({ text: 'a', label: 'x' }));
  await fails(file('corrupt.jsonl.gz', g.subarray(0, g.length - 12)), ': corrupt gzip data (unexpected end of file)');
});

test('invalid UTF-8 in the middle of a large file fails with where it is', async () => {
  const good = jsonl(...Array.from({ length: 2000 }, (_, i) => ({ text: `row ${i}`, label: 'x' })));
  const bytes = Buffer.concat([Buffer.from(good), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]);
  await fails(file('latin.jsonl', bytes), /^: not valid UTF-8 text \(an invalid byte sequence between bytes \d+ and \d+\)$/);
});

test('URIs: an unsupported scheme is named', async () => {
  await assert.rejects(readDataset('https://example.com/data.csv', opts), {
    name: 'DataError',
    message: 'https://example.com/data.csv: unsupported scheme "https:" (datasets are a local path, file:// or s3://bucket/key)',
  });
});

// --- --max-bad-rows ------------------------------------------------------------------------------------

const mixed = [
  '{"text":"good","label":"a"}',
  '{"text": oops}', // 2: malformed JSON
  '{"text":"good","label":"b"}',
  '{"label":"a"}', // 4: missing text
  '{"text":"good","label":1.5}', // 5: bad label
  '{"text":"good","label":"a"}',
].join('\n');

test('--max-bad-rows N skips and records up to N bad rows; the (N+1)th fails with its own message', async () => {
  const p = file('mixed.jsonl', mixed);
  const ok = await readDataset(p, { ...opts, maxBadRows: 3 });
  assert.deepEqual(
    ok.rows.map((r) => r.line),
    [1, 3, 6],
  );
  assert.deepEqual(
    ok.skipped.map((s) => s.line),
    [2, 4, 5],
  );
  assert.match(ok.skipped[0].reason, /^malformed JSON \(/);
  assert.deepEqual(
    ok.skipped.slice(1).map((s) => s.reason),
    ['missing field "text" (and no "input_ids")', 'field "label" must be a non-empty string or an integer >= 0, got 1.5'],
  );
  assert.equal((await readDataset(p, { ...opts, maxBadRows: 10 })).skipped.length, 3);
  await fails(p, ':5: field "label" must be a non-empty string or an integer >= 0, got 1.5 (bad row 3: more than --max-bad-rows 2)', {
    ...opts,
    maxBadRows: 2,
  });
  await fails(p, ':4: missing field "text" (and no "input_ids") (bad row 2: more than --max-bad-rows 1)', { ...opts, maxBadRows: 1 });
  await fails(p, /^:2: malformed JSON \([^)]*\)$/, { ...opts, maxBadRows: 0 });
  await fails(p, /^:2: malformed JSON/);
});

test('--max-bad-rows covers CSV rows and labels outside a given label set too; all-bad is still "no rows"', async () => {
  const p = file('mixed.csv', 'text,label\ngood,a\n,b\nx,y,z\ngood,zzz\ngood,b\n');
  const ds = await readDataset(p, { ...opts, maxBadRows: 3, labels: ['a', 'b'] });
  assert.deepEqual(
    ds.rows.map((r) => [r.line, r.label]),
    [
      [2, 'a'],
      [6, 'b'],
    ],
  );
  assert.deepEqual(ds.skipped, [
    { line: 3, reason: 'empty column "text"' },
    { line: 4, reason: 'has 3 fields but the header has 2' },
    { line: 5, reason: 'label "zzz" is not in the label set ["a","b"]' },
  ]);
  await fails(
    file('allbad.jsonl', '{"label":"a"}\n{"label":"b"}\n'),
    ': no rows (all 2 rows were bad and skipped; the first, line 1: missing field "text" (and no "input_ids"))',
    { ...opts, maxBadRows: 5 },
  );
  for (const bad of [-1, 1.5, Number.NaN]) {
    await assert.rejects(readDataset(p, { ...opts, maxBadRows: bad }), {
      name: 'DataError',
      message: `--max-bad-rows must be an integer >= 0, got ${bad}`,
    });
  }
});

test('whole-file errors are never skipped by --max-bad-rows', async () => {
  const lenient = { ...opts, maxBadRows: 100 };
  await failAll([
    ['skip-csv.jsonl', 'text,label\nx,a\n', /^:1: this does not look like JSON lines/, lenient],
    ['skip-head.csv', 'sentence\nx\n', /^:1: no column "text"/, lenient],
    ['skip-quote.csv', 'text,label\n"x,a\n', /^:\d+: malformed CSV/, lenient],
  ]);
});

test('a failed read releases the file: no descriptor is left open', {
  skip: process.platform !== 'linux' && 'counts /proc/self/fd',
}, async () => {
  const { readdirSync } = await import('node:fs');
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const big = jsonl(...Array.from({ length: 20_000 }, (_, i) => ({ text: `row ${i}`, label: 'x' })));
  const failing: [string, ReadDatasetOptions][] = [
    [file('rel1.jsonl', `{"text":"a"}\n${big}`), opts], // bad row 1 of a large file
    [file('rel2.jsonl.gz', gzip(`{"text":"a"}\n${big}`)), opts], // the same, compressed
    [file('rel3.jsonl.gz', gzip(`text,label\n${big}`)), opts], // wrong format, found in the head, compressed
    [file('rel4.csv', `text,label\n"open,a\n${'row,x\n'.repeat(20_000)}`), opts], // a quote never closed
    [file('rel5.csv', Buffer.concat([Buffer.from('\0'), Buffer.from(big)])), opts], // binary
    [file('rel6.csv', `sentence\n${big}`), opts], // header
  ];
  await readDataset(failing[0][0], { ...opts, maxBadRows: 1 }); // warm up lazily opened handles
  const before = fds();
  for (let round = 0; round < 5; round++) for (const [p, o] of failing) await assert.rejects(readDataset(p, o), DataError);
  // Streams close their descriptors asynchronously after a failed read.
  await waitUntil(`the descriptor count back to ${before}`, () => fds() === before, {
    timeoutMs: 5000,
    intervalMs: 10,
    describe: () => String(fds()),
  });
});
