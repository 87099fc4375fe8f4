/**
 * POST /adapters/:task/predict through the app with an in-process Node predictor over a directory store:
 * predictions equal the trainer's own inference; every bad input is a problem+json naming the field;
 * unknown task or version 404, base missing or mismatched 409, full mode 422, no predictor 501; the
 * route is in the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { createApp } from '../../../functions/app.ts';
import { MAX_PREDICT_INPUTS, MAX_PREDICT_TEXT_CHARS } from '../../../functions/routes/predict.ts';
import { createNodePredictor, type NodePredictor } from '../../../serving/node.ts';
import type { Predictor } from '../../../serving/predictor.ts';
import { softmax } from '../../../serving/runtime.ts';
import { Registry } from '../../../shared/registry/index.ts';
import { fakeServing, fakeStore } from '../../support/fake-serving.ts';
import { idleLauncher } from '../../support/idle-launcher.ts';
import { type ServingStore, servingStore, type TestAdapter, trainerLogits } from '../../support/serving-store.ts';

const KEY = 'predict-key';
let store: ServingStore;
let predictor: NodePredictor;
let app: OpenAPIHono;
let sentiment: { adapter: TestAdapter; version: string };

const launcher = idleLauncher;

const makeApp = (p?: Predictor) =>
  createApp({
    registry: store.registry,
    launcher,
    apiKeys: [KEY],
    allowedDatasetBuckets: ['store'],
    defaultBaseModel: 'tiny',
    downloads: 'stream',
    log: () => {},
    predictor: p,
  });

before(async () => {
  store = await servingStore('predict-route-');
  const { adapter, manifest } = await store.publish({ task: 'sentiment', mode: 'adapter', labels: 2, seed: 1 });
  sentiment = { adapter, version: manifest.version };
  await store.publish({ task: 'sentiment', mode: 'adapter', labels: 2, seed: 2 }); // a newer version
  await store.publish({ task: 'full', mode: 'full', labels: 2, seed: 3 });
  predictor = await createNodePredictor({ registry: store.registry, threads: 1 });
  app = makeApp(predictor);
});
after(async () => {
  await predictor?.close();
  rmSync(store.root, { recursive: true, force: true });
});

function post(path: string, body: unknown, headers: Record<string, string> = {}, a = app): Promise<Response> {
  return Promise.resolve(
    a.request(path, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

interface Problem {
  status: number;
  type: string;
  detail: string;
  'invalid-params'?: { name: string; reason: string }[];
}

async function problem(res: Response, status: number, field?: string): Promise<Problem> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const p = JSON.parse(text) as Problem;
  if (field)
    assert.ok(
      p['invalid-params']?.some((x) => x.name === field),
      `names ${field}: ${text}`,
    );
  return p;
}

test('predictions of a pinned version equal the trainer; without ?version the newest answers', async () => {
  const inputs = ['a fine film', { text: 'was it good?', text_pair: 'not at all' }];
  const res = await post(`/adapters/sentiment/predict?version=${sentiment.version}`, { inputs });
  assert.equal(res.status, 200, await res.clone().text());
  const body = (await res.json()) as { task: string; version: string; predictions: { label: string; probs: Record<string, number> }[] };
  assert.equal(body.task, 'sentiment');
  assert.equal(body.version, sentiment.version);
  const ref = await trainerLogits(store, sentiment.adapter, inputs);
  body.predictions.forEach((p, i) => {
    const want = softmax(ref[i]);
    assert.deepEqual(Object.keys(p.probs), ['l0', 'l1']);
    for (const [j, l] of ['l0', 'l1'].entries()) assert.ok(Math.abs(p.probs[l] - want[j]) < 1e-5);
    assert.equal(p.label, want[0] > want[1] ? 'l0' : 'l1');
  });
  const newest = (await (await post('/adapters/sentiment/predict', { inputs: ['x'] })).json()) as { version: string };
  assert.equal(newest.version, (await store.registry.adapters.versions('sentiment'))[0]);
  assert.notEqual(newest.version, sentiment.version);
});

test('every bad input is a 400 problem naming the field', async () => {
  const long = 'x'.repeat(MAX_PREDICT_TEXT_CHARS + 1);
  const cases: [unknown, string][] = [
    [{}, 'inputs'],
    [{ inputs: [] }, 'inputs'],
    [{ inputs: 'text' }, 'inputs'],
    [{ inputs: Array(MAX_PREDICT_INPUTS + 1).fill('a') }, 'inputs'],
    [{ inputs: ['ok', 3] }, 'inputs[1]'],
    [{ inputs: ['ok', null] }, 'inputs[1]'],
    [{ inputs: [long] }, 'inputs[0]'],
    [{ inputs: [{ text_pair: 'b' }] }, 'inputs[0].text'],
    [{ inputs: [{ text: 1 }] }, 'inputs[0].text'],
    [{ inputs: ['a', { text: 'a', text_pair: long }] }, 'inputs[1].text_pair'],
    [{ inputs: [{ text: 'a', label: 'pos' }] }, 'inputs[0].label'],
    [{ inputs: ['a'], extra: 1 }, 'extra'],
  ];
  for (const [body, field] of cases) await problem(await post('/adapters/sentiment/predict', body), 400, field);
  await problem(await post('/adapters/sentiment/predict?version=v1', { inputs: ['a'] }), 400, 'version');
  await problem(await post('/adapters/Not_A_Slug!/predict', { inputs: ['a'] }), 400, 'task');
  const malformed = await problem(await post('/adapters/sentiment/predict', '{"inputs": ['), 400);
  assert.match(malformed.type, /malformed-request/);
  await problem(await post('/adapters/sentiment/predict', { inputs: ['a'] }, { 'content-type': 'text/plain' }), 415);
  const unauthorized = await post('/adapters/sentiment/predict', { inputs: ['a'] }, { authorization: 'Bearer wrong' });
  await problem(unauthorized, 401);
});

test('unknown task or version 404; base missing or mismatched 409; full mode 422; no predictor 501', async () => {
  await problem(await post('/adapters/nope/predict', { inputs: ['a'] }), 404, 'task');
  await problem(await post('/adapters/sentiment/predict?version=20200101T000000000Z-0000000000000000', { inputs: ['a'] }), 404, 'version');
  const full = await problem(await post('/adapters/full/predict', { inputs: ['a'] }), 422);
  assert.match(full.detail, /full mode/);

  // A version whose manifest names a base the store lacks, and one whose base weights differ.
  for (const [task, edit] of [
    ['orphan', (m: { baseModel: { name: string; weightsSha256: string } }) => (m.baseModel.name = 'gone')],
    ['mismatch', (m: { baseModel: { name: string; weightsSha256: string } }) => (m.baseModel.weightsSha256 = 'ef'.repeat(32))],
  ] as const) {
    const { manifest } = await store.publish({ task, mode: 'adapter', labels: 2, seed: 7 });
    const file = join(store.root, 'store', 'adapters', task, manifest.version, 'manifest.json');
    const m = JSON.parse(readFileSync(file, 'utf8'));
    edit(m);
    writeFileSync(file, JSON.stringify(m));
  }
  // A fresh predictor: the registry caches manifests it has read (they never change in a real store).
  const p = await createNodePredictor({ registry: new Registry(store.registry.store), threads: 1 });
  try {
    const a = makeApp(p);
    assert.match((await problem(await post('/adapters/orphan/predict', { inputs: ['a'] }, {}, a), 409)).type, /base-missing/);
    assert.match((await problem(await post('/adapters/mismatch/predict', { inputs: ['a'] }, {}, a), 409)).type, /base-mismatch/);
  } finally {
    await p.close();
  }
  const none = await problem(await post('/adapters/sentiment/predict', { inputs: ['a'] }, {}, makeApp()), 501);
  assert.match(none.detail, /serves no predictions/);
});

test('the route is in the OpenAPI document', async () => {
  const res = await app.request('/openapi.json', { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(res.status, 200);
  const doc = (await res.json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  const op = doc.paths['/adapters/{task}/predict']?.post;
  assert.ok(op, 'POST /adapters/{task}/predict is documented');
  for (const s of ['200', '400', '401', '404', '409', '422', '429', '501']) assert.ok(op.responses[s], `documents ${s}`);
});

test('beyond the rows a server holds, 429 problem+json with Retry-After; rows of a request whose client went away never run', async () => {
  const fake = fakeStore('predict-route-bounds-');
  fake.add({ task: 'small', mode: 'adapter', labels: 2, seed: 1 });
  const s = await fakeServing(fake, { maxQueuedRows: 40 });
  try {
    const a = makeApp(s.predictor);
    s.hold();
    const first = post('/adapters/small/predict', { inputs: Array(32).fill('a film') }, {}, a);
    while (s.runs.length === 0) await new Promise((r) => setTimeout(r, 5));
    const res = await post('/adapters/small/predict', { inputs: Array(16).fill('b') }, {}, a);
    const p = await problem(res, 429);
    assert.match(p.type, /too-many-rows/);
    assert.equal(res.headers.get('retry-after'), '1');

    // A client that goes away: its request's signal aborts, and its rows leave the queue unrun.
    const client = new AbortController();
    const gone = a.request(
      new Request('http://local/adapters/small/predict', {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: ['c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'] }),
        signal: client.signal,
      }),
    );
    await new Promise((r) => setTimeout(r, 20));
    client.abort();
    await Promise.resolve(gone).catch(() => {});
    s.release();
    assert.equal((await first).status, 200);
    assert.equal(
      s.runs.reduce((n, r) => n + r.rows, 0),
      32,
      'only the first request ran',
    );
    assert.equal(s.predictor.queuedRows, 0);
  } finally {
    s.release();
    s.close();
  }
});
