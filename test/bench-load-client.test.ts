/**
 * The benchmark's load client (test/bench/load-client.ts; test/bench itself holds scripts, not tests): it
 * frames keep-alive responses by Content-Length, sends exactly the requests an open-loop schedule makes due,
 * and counts every body byte. Counts only: no assertion on how fast anything is.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { constantRate, drain, percentile, ResponseReader, requestBytes, sequentialClient } from './bench/load-client.ts';

const BODY = Buffer.alloc(100_000, 1);
let served = 0;
const posted: { method: string; body: string }[] = [];
const server = createServer((req, res) => {
  served++;
  if (req.url === '/stall') return; // never answered
  if (req.url === '/post') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      posted.push({ method: req.method ?? '', body });
      const answer = Buffer.from(JSON.stringify({ got: body.length }));
      res.writeHead(201, { 'content-length': answer.length });
      res.end(answer);
    });
    return;
  }
  const body = req.url === '/big' ? BODY : Buffer.from('{"ok":true}');
  res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-length': body.length });
  res.end(body);
});
let port = 0;
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => server.close());
const target = (path: string) => ({ host: '127.0.0.1', port, path, headers: { authorization: 'Bearer k' } });

test('responses split anywhere across chunks are framed by their Content-Length', () => {
  const seen: [number, number][] = [];
  const reader = new ResponseReader(() => ({ done: (status, bytes) => seen.push([status, bytes]), fail: assert.fail }));
  const wire = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
  for (let i = 0; i < wire.length; i += 3) reader.push(wire.subarray(i, i + 3));
  assert.deepEqual(seen, [
    [200, 5],
    [404, 0],
  ]);
  assert.throws(
    () => new ResponseReader(() => undefined).push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')),
    /without a status line or Content-Length/,
  );
});

test('constant rate: every request due in the window is sent and answered once', async () => {
  served = 0;
  const r = await constantRate(target('/'), { rate: 200, seconds: 0.5, connections: 3, grace: 30 });
  assert.equal(r.due, 100);
  assert.equal(r.completed, 100);
  assert.equal(served, 100);
  assert.equal(r.errors, 0);
  assert.equal(r.non2xx, 0);
  assert.equal(r.fromDue.length, 100);
  assert.ok(percentile(r.fromDue, 50) >= percentile(r.fromSent, 50), 'waiting to be sent only adds latency');
  const missing = await constantRate(target('/missing'), { rate: 100, seconds: 0.1, connections: 1, grace: 30 });
  assert.equal(missing.non2xx, 10);
});

test('constant rate: requests a stalled server never answers are given up after the grace and count as unanswered', async () => {
  const r = await constantRate(target('/stall'), { rate: 100, seconds: 0.1, connections: 2, grace: 0.2 });
  assert.equal(r.due, 10);
  assert.equal(r.completed, 0);
  assert.equal(r.unanswered, 10);
  assert.equal(percentile(r.fromDue, 50), Number.POSITIVE_INFINITY);
});

test('drain: counts the body bytes of every response', async () => {
  const r = await drain(target('/big'), { streams: 2, seconds: 0.2 });
  assert.ok(r.responses > 0);
  assert.equal(r.bytes, r.responses * BODY.length);
  assert.equal(r.non2xx, 0);
});

test('sequential client: POST bodies framed by their byte length (not characters), answered one after another', async () => {
  const client = sequentialClient({ ...target('/post'), body: '{}' });
  try {
    const texts = ['{"inputs":["plain"]}', '{"inputs":["déjà vu, naïve"]}'];
    for (const text of texts) assert.equal(await client.send(requestBytes({ ...target('/post'), body: text })), 201);
    assert.deepEqual(
      posted.slice(-2),
      texts.map((body) => ({ method: 'POST', body })),
    );
  } finally {
    client.close();
  }
  assert.match(requestBytes(target('/x')).toString('latin1'), /^GET \/x HTTP\/1\.1\r\n/);
});

test('percentile: nearest rank over sorted values', () => {
  const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(percentile(sorted, 50), 5);
  assert.equal(percentile(sorted, 99), 10);
  assert.equal(percentile(sorted, 100), 10);
  assert.ok(Number.isNaN(percentile(new Float64Array(0), 50)));
});
