/**
 * Auth and validation through the Lambda path: the deployed handler, configured from the environment,
 * invoked with API Gateway v2 events (plain and base64 bodies, query strings), against the real
 * registry. Nothing here may reach Batch: every request is refused before a job exists.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, BASE_MODEL, type Fixtures, setUp, tearDown } from './fixtures.ts';

let f: Fixtures;

before(async () => {
  f = await setUp();
});

after(() => tearDown(f));

interface Problem {
  type: string;
  status: number;
  detail: string;
  'invalid-params'?: { name: string; reason: string }[];
}

test('GET /healthz needs no key; without a key or with a wrong one the API answers 401 problem+json', async () => {
  assert.equal((await api('GET', '/healthz')).status, 200);
  for (const key of [undefined, 'not-the-key']) {
    const res = await api('GET', '/adapters', { key });
    assert.equal(res.status, 401, `key ${key}`);
    assert.match(res.headers['content-type'], /^application\/problem\+json/);
    assert.equal(res.json<Problem>().status, 401);
    assert.match(res.headers['www-authenticate'] ?? '', /^Bearer/);
  }
  const denied = await api('POST', '/finetune', { body: { task: 'x', datasetUri: f.datasets.small } });
  assert.equal(denied.status, 401, 'no job without a key');
});

test('a bad body is a 400 problem naming each field, plain or base64-encoded as API Gateway sends binary media', async () => {
  for (const base64 of [false, true]) {
    const res = await api('POST', '/finetune', {
      key: f.config.apiKey,
      base64,
      body: { task: 'Not A Slug!', datasetUri: 'http://example.com/x', hyperparameters: { epochs: 0 } },
    });
    assert.equal(res.status, 400, res.text);
    assert.match(res.headers['content-type'], /^application\/problem\+json/);
    const names = (res.json<Problem>()['invalid-params'] ?? []).map((p) => p.name).sort();
    assert.deepEqual(names, ['datasetUri', 'hyperparameters.epochs', 'task'], `base64 ${base64}`);
  }
  const malformed = await api('POST', '/finetune', { key: f.config.apiKey, body: '{"task": ' });
  assert.equal(malformed.status, 400);
  assert.match(malformed.headers['content-type'], /^application\/problem\+json/);
});

test('policy checks answer 422: a dataset outside the allowed buckets, a base model not in the registry', async () => {
  const bucket = await api('POST', '/finetune', {
    key: f.config.apiKey,
    body: { task: 'x', datasetUri: 's3://some-other-bucket/data.jsonl', baseModel: BASE_MODEL },
  });
  assert.equal(bucket.status, 422, bucket.text);
  assert.deepEqual(
    bucket.json<Problem>()['invalid-params']?.map((p) => p.name),
    ['datasetUri'],
  );
  const base = await api('POST', '/finetune', {
    key: f.config.apiKey,
    body: { task: 'x', datasetUri: f.datasets.small, baseModel: 'no-such-base' },
  });
  assert.equal(base.status, 422, base.text);
  assert.deepEqual(
    base.json<Problem>()['invalid-params']?.map((p) => p.name),
    ['baseModel'],
  );
});

test('query strings and path parameters arrive through the v2 event: list limits, unknown ids are 404', async () => {
  const list = await api('GET', '/finetune?limit=1', { key: f.config.apiKey });
  assert.equal(list.status, 200, list.text);
  assert.ok(list.json<{ data: unknown[] }>().data.length <= 1);
  const badLimit = await api('GET', '/finetune?limit=0', { key: f.config.apiKey });
  assert.equal(badLimit.status, 400);
  assert.equal((await api('GET', `/finetune/ft-it-${f.config.runId}-nope`, { key: f.config.apiKey })).status, 404);
  assert.equal((await api('GET', `/adapters/it-never-${f.config.runId}`, { key: f.config.apiKey })).status, 404);
});
