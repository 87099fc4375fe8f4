/**
 * A large file is streamed: 200,000 rows (57 MB) read while the live heap is sampled (after a full GC)
 * every 20,000 rows. Holding the file whole, as a string or a buffer, would show the file's size on top of the
 * rows; streaming shows the rows and a few chunks in flight.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createWriteStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { streamDataset } from '../../../shared/training-data/dataset.ts';
import type { TokenizedRow } from '../../../shared/training-data/rows.ts';
import { tempDir } from './helpers.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const live = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const MB = 1024 * 1024;

test('200,000 rows are streamed: the live heap never holds the file besides the rows', async () => {
  const { dir } = tempDir('data-large-');
  const p = join(dir, 'big.jsonl');
  const N = 200_000;
  const note = 'n'.repeat(200); // padding that is parsed and dropped: the file is much larger than its rows
  const out = createWriteStream(p);
  for (let i = 0; i < N; i++) {
    const line = `${JSON.stringify({
      input_ids: [101, 1000 + (i % 500), 2000 + (i % 7), 102, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
      label: i % 3 === 0 ? 'a' : 'b',
      note,
    })}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const size = statSync(p).size;
  assert.ok(size > 50 * MB, `the file is ${size} bytes`);

  gc();
  gc();
  const base = live();
  // Sampled on the reader's progress (every 20,000 rows), not on a timer: the same ten samples however fast or
  // slowly this machine reads.
  let peak = 0;
  let samples = 0;
  const rows: TokenizedRow[] = [];
  const it = streamDataset(p, { vocabSize: 30522, maxPositions: 512, typeVocabSize: 2, requireLabels: true });
  for (let r = await it.next(); !r.done; r = await it.next()) {
    rows.push(r.value);
    if (rows.length % 20_000 === 0) {
      gc();
      samples++;
      peak = Math.max(peak, live() - base);
    }
  }
  const ds = { rows };
  gc();
  gc();
  const retained = live() - base;
  assert.equal(ds.rows.length, N);
  assert.deepEqual([...ds.rows[N - 1].inputIds.subarray(0, 4)], [101, 1000 + ((N - 1) % 500), 2000 + ((N - 1) % 7), 102]);
  assert.equal(ds.rows[N - 1].line, N);
  assert.equal(samples, 10, `sampled ${samples} times while reading`);
  const info = `file ${(size / MB).toFixed(1)} MB, rows retained ${(retained / MB).toFixed(1)} MB (${Math.round(retained / N)} B/row), live peak while reading ${(peak / MB).toFixed(1)} MB`;
  // Measured: ~248 bytes a row retained (16 tokens), live peak within ~5 MB of it.
  assert.ok(retained < size, `the rows take less than the file: ${info}`);
  assert.ok(retained / N < 400, `compact rows: ${info}`);
  assert.ok(peak < retained + 16 * MB, `never the file and the rows both: ${info}`);
});
