/** A Node stream as a Response body: the same buffers (no copy), its end and errors, and a cancel that stops it. */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { responseBodyOf } from '../../../functions/http/stream-body.ts';

test('chunks arrive as the very buffers the stream produced, then the body ends', async () => {
  const chunks = [Buffer.from('ab'), Buffer.from('cd')];
  const reader = responseBodyOf(Readable.from(chunks)).getReader();
  assert.equal((await reader.read()).value, chunks[0], 'not a copy');
  assert.equal((await reader.read()).value, chunks[1]);
  assert.equal((await reader.read()).done, true);
});

test('the source is paused while the body holds a chunk nobody read', async () => {
  const source = new PassThrough();
  const reader = responseBodyOf(source).getReader();
  const first = reader.read(); // pulls: the source flows until one chunk is queued
  source.write(Buffer.from('one'));
  assert.equal((await first).value?.toString(), 'one');
  source.write(Buffer.from('two'));
  await new Promise((r) => setImmediate(r));
  assert.ok(source.isPaused(), 'one chunk queued and unread: the source waits');
  assert.equal((await reader.read()).value?.toString(), 'two');
});

test("a source's error errors the body", async () => {
  const source = new PassThrough();
  const reader = responseBodyOf(source).getReader();
  source.destroy(new Error('sha256 does not match'));
  await assert.rejects(reader.read(), /sha256 does not match/);
});

test('cancelling the body destroys the source', async () => {
  const source = new PassThrough();
  const reader = responseBodyOf(source).getReader();
  source.write(Buffer.from('x'));
  await reader.read();
  await reader.cancel();
  assert.ok(source.destroyed);
  source.emit('data', Buffer.from('late')); // nothing is enqueued into a cancelled body (it would throw)
});
