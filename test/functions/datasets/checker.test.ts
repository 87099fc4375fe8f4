/**
 * functions/datasets/checker.ts: the check runs on a worker thread in constant memory, so a gzip body of
 * millions of tiny rows (the probe that took the server down: every parsed row was kept to count
 * labels) passes within a heap far smaller than those rows; its caps and its slots hold.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DatasetChecker } from '../../../functions/datasets/checker.ts';
import { DataError, DataLimitError } from '../../../shared/training-data/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'checker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ROWS = 1_000_000;
/** ~27 MB of JSON lines in a ~100 KB gzip body. */
function tinyRows(): string {
  const a = '{"text":"a","label":"pos"}\n';
  const b = '{"text":"b","label":"neg"}\n';
  return (a + b).repeat(ROWS / 2);
}

test('a million tiny rows are checked in a 48 MB worker heap (keeping them would need several hundred MB)', {
  timeout: 120_000,
}, async () => {
  const file = join(dir, 'many.jsonl.gz');
  const body = gzipSync(tinyRows(), { level: 9 });
  assert.ok(body.length < 200_000, `gzip body is ${body.length} bytes`);
  writeFileSync(file, body);
  const checker = new DatasetChecker({ heapMb: 48, limits: { maxBytes: 64 * 1024 * 1024, maxRows: 2 * ROWS } });
  const s = await checker.check(file);
  assert.equal(s.rows, ROWS);
  assert.deepEqual(
    [...s.labels],
    [
      ['pos', ROWS / 2],
      ['neg', ROWS / 2],
    ],
  );
});

test('the caps hold inside the worker: decompressed bytes and rows', async () => {
  const file = join(dir, 'capped.jsonl.gz');
  writeFileSync(file, gzipSync('{"text":"a","label":"pos"}\n{"text":"b","label":"neg"}\n'.repeat(20_000)));
  const bytes = new DatasetChecker({ limits: { maxBytes: 100_000 } });
  await assert.rejects(bytes.check(file), (err: unknown) => err instanceof DataLimitError && err.limit === 'bytes');
  const rows = new DatasetChecker({ limits: { maxRows: 1000 } });
  await assert.rejects(
    rows.check(file),
    (err: unknown) => err instanceof DataLimitError && err.limit === 'rows' && /more than 1000 rows/.test(err.message),
  );
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"text":"a","label":"x"}\n{"text":\n');
  await assert.rejects(
    new DatasetChecker({ limits: {} }).check(bad),
    (err: unknown) => err instanceof DataError && !(err instanceof DataLimitError) && /bad\.jsonl:2: malformed JSON/.test(err.message),
  );
});

test('inline mode gives the same answers; slots are limited and released once', async () => {
  const file = join(dir, 'two.jsonl');
  writeFileSync(file, '{"text":"a","label":"x"}\n{"text":"b","label":"y"}\n');
  const c = new DatasetChecker({ mode: 'inline', concurrency: 2, limits: {} });
  assert.deepEqual(
    [...(await c.check(file)).labels],
    [
      ['x', 1],
      ['y', 1],
    ],
  );
  const a = c.tryAcquire();
  const b = c.tryAcquire();
  assert.ok(a && b);
  assert.equal(c.tryAcquire(), null);
  a();
  a(); // a second release of the same slot frees nothing more
  const again = c.tryAcquire();
  assert.ok(again);
  assert.equal(c.tryAcquire(), null);
});
