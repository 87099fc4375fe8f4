/** readDataset over every format: text and pre-tokenized rows, column options, labels, gzip, GLUE-shaped files. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readDataset, resolveFormat } from '../../../shared/training-data/dataset.ts';
import { formatFromName } from '../../../shared/training-data/formats.ts';
import type { TokenizedRow } from '../../../shared/training-data/rows.ts';
import { pairRows, SENTENCES, sentimentRows, toJsonl } from '../../support/text-rows.ts';
import { charTokenizer, expectIds, gzip, jsonl, opts, tempDir } from './helpers.ts';

const { file } = tempDir('data-formats-');
const view = (rows: TokenizedRow[]): [number[], number[], string | number | null, number][] =>
  rows.map((r) => [[...r.inputIds], [...r.tokenTypeIds], r.label, r.line]);

test('JSONL: text rows (with and without a pair) and pre-tokenized rows in one file', async () => {
  const p = file(
    'mixed.jsonl',
    jsonl(
      { text: 'ab', label: 'pos' },
      { text: 'a', text_pair: 'bc', label: 'neg' },
      { input_ids: [1, 7, 2], token_type_ids: [0, 0, 1], label: 3 },
    ),
  );
  const ds = await readDataset(p, opts);
  assert.equal(ds.format, 'jsonl');
  assert.equal(ds.name, p);
  assert.deepEqual(ds.skipped, []);
  assert.deepEqual(view(ds.rows), [
    [expectIds('ab'), [0, 0, 0, 0], 'pos', 1],
    [expectIds('a', 'bc'), [0, 0, 0, 1, 1, 1], 'neg', 2],
    [[1, 7, 2], [0, 0, 1], 3, 3],
  ]);
  assert.ok(ds.rows.every((r) => r.inputIds instanceof Int32Array && r.tokenTypeIds instanceof Int32Array));
});

test('CSV: RFC 4180 quoting (commas, doubled quotes, newlines in a field), CRLF, a BOM, blank lines; lines are where a record starts', async () => {
  const csv = '\ufefftext,text_pair,label\r\n"hello, world",,pos\r\n"she said ""hi""",x,neg\r\n\r\n"two\nlines",y,pos\r\nlast,,neg';
  const ds = await readDataset(file('q.csv', csv), opts);
  assert.equal(ds.format, 'csv');
  assert.deepEqual(
    view(ds.rows).map(([ids, , label, line]) => [ids, label, line]),
    [
      [expectIds('hello, world'), 'pos', 2],
      [expectIds('she said "hi"', 'x'), 'neg', 3],
      [expectIds('two\nlines', 'y'), 'pos', 5],
      [expectIds('last'), 'neg', 7],
    ],
  );
});

test('TSV: tab-separated, no quoting (quotes are text, as in the GLUE .tsv files), extra columns ignored', async () => {
  const tsv = 'idx\ttext\ttext_pair\tlabel\n0\t"quoted" start\tpair "b\tentailment\n1\tit\'s\t\tnot_entailment\n';
  const ds = await readDataset(file('t.tsv', tsv), opts);
  assert.equal(ds.format, 'tsv');
  assert.deepEqual(
    view(ds.rows).map(([ids, , label, line]) => [ids, label, line]),
    [
      [expectIds('"quoted" start', 'pair "b'), 'entailment', 2],
      [expectIds("it's"), 'not_entailment', 3],
    ],
  );
});

test('the same data as JSONL, CSV and TSV gives the same rows', async () => {
  const data: [string, string | undefined, string | number][] = [
    ['good movie', undefined, 1],
    ['bad, really', 'twice', 0],
    ['ok', 'fine', 1],
  ];
  const j = file('same.jsonl', jsonl(...data.map(([text, text_pair, label]) => ({ text, text_pair, label }))));
  const c = file('same.csv', `text,text_pair,label\n${data.map(([t, p, l]) => `"${t}",${p ?? ''},${l}`).join('\n')}\n`);
  const t = file('same.tsv', `text\ttext_pair\tlabel\n${data.map(([tx, p, l]) => `${tx}\t${p ?? ''}\t${l}`).join('\n')}\n`);
  const [a, b, d] = await Promise.all([j, c, t].map((p) => readDataset(p, opts)));
  const noLine = (rows: TokenizedRow[]) => view(rows).map(([ids, types, label]) => [ids, types, label]);
  assert.deepEqual(noLine(b.rows), noLine(a.rows));
  assert.deepEqual(noLine(d.rows), noLine(a.rows));
  assert.deepEqual(
    b.rows.map((r) => r.line),
    [2, 3, 4],
    'the header is line 1',
  );
  assert.deepEqual(
    a.rows.map((r) => r.label),
    [1, 0, 1],
    'CSV/TSV integer labels are class indices, as JSON integers',
  );
});

test('CSV/TSV pre-tokenized rows: input_ids (and token_type_ids) as a JSON array or space-separated integers', async () => {
  const csv = 'input_ids,token_type_ids,label\n"[1, 7, 2]","[0,0,1]",a\n1 8 9 2,,b\n';
  const ds = await readDataset(file('ids.csv', csv), { ...opts, tokenizer: undefined });
  assert.deepEqual(view(ds.rows), [
    [[1, 7, 2], [0, 0, 1], 'a', 2],
    [[1, 8, 9, 2], [0, 0, 0, 0], 'b', 3],
  ]);
  const tsv = await readDataset(file('ids.tsv', 'input_ids\tlabel\n[1,7,2]\ta\n'), { ...opts, tokenizer: undefined });
  assert.deepEqual(view(tsv.rows), [[[1, 7, 2], [0, 0, 0], 'a', 2]]);
});

test('column options name the text, pair and label columns (CSV/TSV) and fields (JSONL)', async () => {
  const o = { ...opts, textColumn: 'sentence1', textPairColumn: 'sentence2', labelColumn: 'gold' };
  const c = await readDataset(file('cols.csv', 'gold,sentence1,sentence2,text\nyes,a b,c,IGNORED\n'), o);
  assert.deepEqual(
    view(c.rows).map(([ids, , label]) => [ids, label]),
    [[expectIds('a b', 'c'), 'yes']],
  );
  const j = await readDataset(file('cols.jsonl', jsonl({ sentence1: 'a b', sentence2: 'c', gold: 'yes', text: 'IGNORED' })), o);
  assert.deepEqual(
    view(j.rows).map(([ids, types, label]) => [ids, types, label]),
    view(c.rows).map(([ids, types, label]) => [ids, types, label]),
  );
  const t = await readDataset(file('cols.tsv', 'sentence1\tgold\na\tno\n'), { ...opts, textColumn: 'sentence1', labelColumn: 'gold' });
  assert.deepEqual(
    view(t.rows).map(([ids, , label]) => [ids, label]),
    [[expectIds('a'), 'no']],
  );
  await assert.rejects(readDataset(file('dup-opt.csv', 'text\nx\n'), { ...opts, textColumn: 'x', labelColumn: 'x' }), {
    name: 'DataError',
    message: 'the text, text-pair and label columns must differ, got ["x","text_pair","x"]',
  });
});

test('labels: strings and integers (JSON), CSV cells in canonical integer form are integers; unlabelled rows when labels are not required', async () => {
  const c = await readDataset(file('lab.csv', 'text,label\na,0\nb,12\nc,007\nd,-1\ne,pos\n'), opts);
  assert.deepEqual(
    c.rows.map((r) => r.label),
    [0, 12, '007', '-1', 'pos'],
  );
  const unl = { ...opts, requireLabels: false };
  assert.deepEqual(
    (await readDataset(file('nolab.csv', 'text\na\nb\n'), unl)).rows.map((r) => r.label),
    [null, null],
    'no label column at all',
  );
  assert.deepEqual(
    (await readDataset(file('somelab.csv', 'text,label\na,\nb,x\n'), unl)).rows.map((r) => r.label),
    [null, 'x'],
    'an empty cell is no label',
  );
  assert.deepEqual(
    (await readDataset(file('nolab.jsonl', jsonl({ text: 'a' }, { text: 'b', label: null })), unl)).rows.map((r) => r.label),
    [null, null],
  );
});

test('a given label set (--labels, or the training labels for validation data) is checked row by row', async () => {
  const p = file('given.jsonl', jsonl({ text: 'a', label: 'pos' }, { text: 'b', label: 1 }, { text: 'c', label: 'maybe' }));
  await assert.rejects(readDataset(p, { ...opts, labels: ['neg', 'pos'] }), {
    name: 'DataError',
    message: `${p}:3: label "maybe" is not in the label set ["neg","pos"]`,
  });
  const q = file('given2.csv', 'text,label\na,pos\nb,2\n');
  await assert.rejects(readDataset(q, { ...opts, labels: ['neg', 'pos'] }), {
    message: `${q}:3: integer label 2 is not a class index in [0, 2) of the label set ["neg","pos"]`,
  });
  const ok = await readDataset(p, { ...opts, labels: ['neg', 'pos', 'maybe'] });
  assert.equal(ok.rows.length, 3);
});

test('gzip: .jsonl.gz, .csv.gz and .tsv.gz are decompressed on the fly; gzip bytes without the .gz name too', async () => {
  const text = jsonl({ text: 'zip', label: 'a' }, { text: 'zap', label: 'b' });
  const plain = await readDataset(file('plain.jsonl', text), opts);
  const gz = await readDataset(file('z.jsonl.gz', gzip(text)), opts);
  assert.deepEqual(view(gz.rows), view(plain.rows));
  assert.equal(gz.gzip, true);
  assert.equal(plain.gzip, false);
  assert.equal(gz.format, 'jsonl');
  assert.deepEqual(view((await readDataset(file('unnamed.jsonl', gzip(text)), opts)).rows), view(plain.rows));
  const csv = await readDataset(file('z.csv.gz', gzip('text,label\nzip,a\nzap,b\n')), opts);
  assert.deepEqual(
    view(csv.rows).map(([ids, , l]) => [ids, l]),
    view(plain.rows).map(([ids, , l]) => [ids, l]),
  );
  assert.equal((await readDataset(file('z.tsv.gz', gzip('text\tlabel\nzip\ta\n')), opts)).rows.length, 1);
});

test('format from --format or the extension (.jsonl .ndjson .json .csv .tsv .tab, each optionally .gz)', async () => {
  assert.deepEqual(
    ['a.jsonl', 'a.NDJSON', 'dir.v1/a.json', 'a.csv', 'a.CSV.GZ', 'a.tsv', 'a.tab', 's3://b/k/x.jsonl.gz', 'a.txt', 'a', 'a.gz'].map(
      formatFromName,
    ),
    ['jsonl', 'jsonl', 'jsonl', 'csv', 'csv', 'tsv', 'tsv', 'jsonl', null, null, null],
  );
  const p = file('rows.txt', 'text,label\nx,a\n');
  await assert.rejects(readDataset(p, opts), {
    name: 'DataError',
    message: `${p}: cannot tell the format from the file name; name it .jsonl, .csv or .tsv (optionally .gz), or pass --format jsonl|csv|tsv`,
  });
  assert.equal((await readDataset(p, { ...opts, format: 'csv' })).rows.length, 1);
  assert.throws(() => resolveFormat('a.csv', 'xlsx'), { name: 'DataError', message: '--format: "xlsx" is not one of jsonl, csv, tsv' });
});

// GLUE-shaped files (JSONL with text / text_pair / label, as the GLUE exports the team uses) made from
// the generated rows in test/support/text-rows.ts: sentiment singles and sentence pairs, with accents,
// quotes, tabs and CJK in the text.
test('GLUE-shaped files: SST-2-style singles (872 rows) and RTE-style pairs through the JSONL reader', async () => {
  const long = { ...opts, maxPositions: 4096 };
  const singles = [...sentimentRows(842), ...SENTENCES.map((text, i) => ({ text, label: i % 2 }))];
  const sst = await readDataset(file('sst2-validation.jsonl', toJsonl(singles)), long);
  assert.equal(sst.rows.length, 872);
  assert.deepEqual([...new Set(sst.rows.map((r) => r.label))].sort(), [0, 1]);
  assert.ok(sst.rows.every((r) => r.tokenTypeIds.every((t) => t === 0)));
  assert.deepEqual(
    sst.rows.map((r) => r.line),
    Array.from({ length: 872 }, (_, i) => i + 1),
  );
  const pairs = pairRows(250);
  const rte = await readDataset(file('rte-train.jsonl', toJsonl(pairs)), long);
  assert.equal(rte.rows.length, 250);
  assert.ok(
    rte.rows.every((r) => r.tokenTypeIds.includes(1)),
    'every RTE-style row is a pair',
  );
  // Every row as the fake tokenizer sees it: [CLS] text [SEP] text_pair [SEP].
  pairs.forEach((p, i) => {
    assert.deepEqual([...rte.rows[i].inputIds], Array.from(charTokenizer.encode(p.text, p.text_pair).inputIds), `row ${i + 1}`);
    assert.equal(rte.rows[i].label, p.label);
  });
});

test('column names are plain keys: "__proto__" and "constructor" are columns like any other', async () => {
  const ds = await readDataset(file('proto.csv', '__proto__,constructor,label\nhi,there,x\n'), {
    ...opts,
    textColumn: '__proto__',
    textPairColumn: 'constructor',
  });
  assert.deepEqual([...ds.rows[0].inputIds], expectIds('hi', 'there'));
  await assert.rejects(readDataset(file('proto.jsonl', jsonl({ label: 'x' })), { ...opts, textColumn: 'constructor' }), {
    message: /:1: missing field "constructor" \(and no "input_ids"\)$/,
  });
});
