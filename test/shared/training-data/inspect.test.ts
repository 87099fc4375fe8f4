/**
 * trainer/data/inspect.ts, the check behind POST /datasets: labels are counted in a Map (names like
 * "__proto__" or "constructor" are ordinary labels), one label is refused, and the row cap stops a read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataError, DataLimitError } from '../../../shared/training-data/errors.ts';
import { inspectDataset } from '../../../shared/training-data/inspect.ts';
import { jsonl, tempDir } from './helpers.ts';

const files = tempDir('inspect-');

test('labels named like Object.prototype members are counted like any other', async () => {
  const labels = ['constructor', 'toString', '__proto__', 'constructor', 'hasOwnProperty', '__proto__', '__proto__'];
  const path = files.file('proto.jsonl', jsonl(...labels.map((label) => ({ text: 'x', label }))));
  const s = await inspectDataset(path);
  assert.equal(s.rows, 7);
  assert.deepEqual(
    [...s.labels],
    [
      ['constructor', 2],
      ['toString', 1],
      ['__proto__', 3],
      ['hasOwnProperty', 1],
    ],
  );
  // As JSON (what the API answers), too.
  assert.equal(JSON.stringify(Object.fromEntries(s.labels)), '{"constructor":2,"toString":1,"__proto__":3,"hasOwnProperty":1}');
  const csv = files.file('proto.csv', 'text,label\na,constructor\nb,toString\nc,toString\n');
  assert.deepEqual(
    [...(await inspectDataset(csv)).labels],
    [
      ['constructor', 1],
      ['toString', 2],
    ],
  );
});

test('a dataset with one label is refused: a classifier needs two', async () => {
  const path = files.file('one.jsonl', jsonl({ text: 'a', label: 'pos' }, { text: 'b', label: 'pos' }));
  await assert.rejects(
    inspectDataset(path),
    (err: unknown) =>
      err instanceof DataError && /one\.jsonl: every row has the label "pos"; a classifier needs at least two labels/.test(err.message),
  );
});

test('the row cap fails at the first row past it, naming the line', async () => {
  const path = files.file('rows.jsonl', jsonl(...Array.from({ length: 10 }, (_, i) => ({ text: 't', label: i % 2 }))));
  assert.equal((await inspectDataset(path, { maxRows: 10 })).rows, 10);
  await assert.rejects(
    inspectDataset(path, { maxRows: 9 }),
    (err: unknown) => err instanceof DataLimitError && err.limit === 'rows' && /rows\.jsonl:10: more than 9 rows/.test(err.message),
  );
});

test('label limits: the 1,001st distinct label, a label past its length and an integer class past the count fail at their line', async () => {
  const limits = { labels: { maxLabels: 1000, maxLabelChars: 256 } };
  const rows = Array.from({ length: 200_000 }, (_, i) => `t,class-${i}`).join('\n');
  const many = files.file('many.csv', `text,label\n${rows}\n`);
  await assert.rejects(inspectDataset(many, limits), (err: unknown) => {
    assert.ok(err instanceof DataLimitError && err.limit === 'labels');
    assert.equal(err.message, `${many}:1002: more than 1000 distinct labels, the limit (ADAPTER_STORE_MAX_LABELS)`);
    return true;
  });
  const long = files.file('long.jsonl', jsonl({ text: 'a', label: 'ok' }, { text: 'b', label: 'x'.repeat(500_000) }));
  await assert.rejects(inspectDataset(long, limits), /long\.jsonl:2: label of 500000 characters .*over the limit of 256/);
  const ints = files.file('ints.jsonl', jsonl({ text: 'a', label: 0 }, { text: 'b', label: 1000 }));
  await assert.rejects(inspectDataset(ints, limits), /ints\.jsonl:2: integer label 1000 means 1001 classes, over the limit of 1000/);
  // Without limits (the trainer's own reading), inspect counts whatever is there.
  assert.equal((await inspectDataset(many)).labels.size, 200_000);
});
