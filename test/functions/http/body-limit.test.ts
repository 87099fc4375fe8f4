/**
 * The body limit over @hono/node-server, as the local server runs it: a body that declares its length is
 * judged by the header (413 before the handler), a chunked one is counted as it streams (413 past the
 * limit), and under the limit either way the route reads the whole body.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { declaredBodyLimit } from '../../../functions/http/body-limit.ts';

const LIMIT = 100;
let port = 0;
let server: ReturnType<typeof serve>;
let handled = 0;

before(async () => {
  const app = new Hono();
  app.use(
    '*',
    declaredBodyLimit(LIMIT, () => {
      throw new Error('too large');
    }),
  );
  app.onError((err, c) => c.text(err.message, err.message === 'too large' ? 413 : 500));
  app.post('/echo', async (c) => {
    handled++;
    return c.json(await c.req.json());
  });
  await new Promise<void>((listening) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => listening());
  });
  port = (server.address() as AddressInfo).port;
});
after(() => new Promise<void>((closed) => server.close(() => closed())));

/** POSTs `chunks` to /echo, with a Content-Length (`declared`) or chunked; the status and body text. */
function post(chunks: string[], declared: boolean): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const length = chunks.reduce((n, s) => n + Buffer.byteLength(s), 0);
    const headers: Record<string, string> = { 'content-type': 'application/json', connection: 'close' };
    if (declared) headers['content-length'] = String(length);
    const req = request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', fail);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

const json = (n: number) => JSON.stringify({ pad: 'x'.repeat(n) }); // 10 + n bytes

test('a declared length over the limit is 413 and never reaches the route', async () => {
  const before = handled;
  const r = await post([json(LIMIT)], true);
  assert.equal(r.status, 413);
  assert.equal(handled, before);
});

test('a chunked body is counted as it streams: 413 past the limit', async () => {
  const r = await post([json(60).slice(0, 40), json(60).slice(40)], false);
  assert.equal(r.status, 200); // 70 bytes in two chunks
  assert.deepEqual(JSON.parse(r.text), { pad: 'x'.repeat(60) });
  const over = await post([json(LIMIT).slice(0, 50), json(LIMIT).slice(50)], false);
  assert.equal(over.status, 413);
});

test('under the limit, a declared body is read whole by the route', async () => {
  const r = await post([json(LIMIT - 10)], true); // exactly the limit
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.text), { pad: 'x'.repeat(LIMIT - 10) });
});
