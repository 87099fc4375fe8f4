/**
 * trainer/data/text.ts: line splitting is linear in the text (a long line arriving in many small chunks
 * is not re-copied and re-searched per chunk), a line over the cap fails naming it, the cap is
 * configurable, and openText's byte cap stops a stream (gzip included) as it passes the limit.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DataError, DataLimitError } from '../../../shared/training-data/errors.ts';
import { MAX_LINE_CHARS, maxLineCharsFromEnv, openText, splitLines } from '../../../shared/training-data/text.ts';

async function* from(chunks: Iterable<string>): AsyncGenerator<string> {
  for (const c of chunks) yield c;
}

async function lines(chunks: Iterable<string>, max?: number): Promise<{ line: number; text: string }[]> {
  const out: { line: number; text: string }[] = [];
  for await (const l of splitLines(from(chunks), 'f.jsonl', max)) out.push(l);
  return out;
}

test('lines split across chunks, CRLF and a CR split from its LF come out whole', async () => {
  assert.deepEqual(await lines(['ab', 'c\r', '\nd', 'e\n\nf']), [
    { line: 1, text: 'abc' },
    { line: 2, text: 'de' },
    { line: 3, text: '' },
    { line: 4, text: 'f' },
  ]);
  assert.deepEqual(await lines(['x\r\n']), [{ line: 1, text: 'x' }]);
  assert.deepEqual(await lines([]), []);
});

// Before: each chunk was appended to the pending text, which was copied and searched again, so a line
// of n one-character chunks cost O(n^2) (here ~10^11 character copies: hours). Linear, it is instant.
test('a 500,000-character line in one-character chunks is read in linear time', { timeout: 60_000 }, async () => {
  const n = 500_000;
  function* oneByOne(): Generator<string> {
    for (let i = 0; i < n; i++) yield 'x';
    yield '\nend\n';
  }
  const got = await lines(oneByOne(), n);
  assert.equal(got.length, 2);
  assert.equal(got[0].text.length, n);
  assert.equal(got[1].text, 'end');
});

test('a line over the cap fails naming its line, whether it ends or not; the default cap is 1 MiB', async () => {
  assert.equal(MAX_LINE_CHARS, 1024 * 1024);
  await assert.rejects(
    lines(['ok\n', 'y'.repeat(11), '\n'], 10),
    (err: unknown) =>
      err instanceof DataLimitError && err.limit === 'line' && /^f\.jsonl:2: line 2 is longer than 10 characters/.test(err.message),
  );
  await assert.rejects(lines(['ok\nok\n', 'y'.repeat(6), 'y'.repeat(6)], 10), /f\.jsonl:3: line 3 is longer than 10 characters/);
  // Exactly at the cap is fine, with or without a CR.
  assert.equal((await lines([`${'y'.repeat(10)}\r\n`], 10))[0].text.length, 10);
  // The default: a 2 MiB line (accepted before, up to 64 MiB) is refused.
  await assert.rejects(lines([`{"text": "${'z'.repeat(2 * 1024 * 1024)}"}\n`]), /f\.jsonl:1: line 1 is longer than 1048576 characters/);
});

test('ADAPTER_STORE_MAX_LINE_CHARS sets the cap; nonsense is refused by name', () => {
  assert.equal(maxLineCharsFromEnv({}), MAX_LINE_CHARS);
  assert.equal(maxLineCharsFromEnv({ ADAPTER_STORE_MAX_LINE_CHARS: '4096' }), 4096);
  assert.throws(
    () => maxLineCharsFromEnv({ ADAPTER_STORE_MAX_LINE_CHARS: '-1' }),
    (e: unknown) => e instanceof DataError && /ADAPTER_STORE_MAX_LINE_CHARS must be a positive integer/.test(e.message),
  );
});

test('openText stops at maxBytes of decompressed text, while streaming', async () => {
  const text = 'a\n'.repeat(100_000); // 200 KB, a few hundred bytes of gzip
  const small = gzipSync(text);
  const t = await openText(Readable.from([small]), 'bomb.jsonl.gz', { maxBytes: 50_000 });
  let read = 0;
  await assert.rejects(
    (async () => {
      for await (const c of t.chunks) read += c.length;
    })(),
    (err: unknown) =>
      err instanceof DataLimitError &&
      err.limit === 'bytes' &&
      /bomb\.jsonl\.gz: more than 50000 bytes after decompression/.test(err.message),
  );
  assert.ok(read <= 50_000, `read ${read} characters before stopping`);
  // Under the cap, everything comes through.
  const ok = await openText(Readable.from([small]), 'ok.jsonl.gz', { maxBytes: text.length });
  let all = '';
  for await (const c of ok.chunks) all += c;
  assert.equal(all, text);
});
