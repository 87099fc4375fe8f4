/**
 * The Lambda entry point invoked with API Gateway HTTP API (payload v2) events, configured from the
 * same environment variables the stack sets, against a real S3-compatible server and a Batch
 * wire-protocol server on loopback.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from '../../shared/registry.ts';
import { startBatchWireServer, type BatchWireServer } from '../support/batch-wire.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';

let s3: S3TestServer;
let batch: BatchWireServer;
let handler: typeof import('../../functions/lambda.ts').handler;
const saved = { ...process.env };

function event(method: string, rawPath: string, opts: { body?: unknown; key?: string; query?: string } = {}) {
  const headers: Record<string, string> = { host: 'api.example.com', 'content-type': 'application/json' };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (body) headers['content-length'] = String(Buffer.byteLength(body));
  return {
    version: '2.0', routeKey: '$default', rawPath, rawQueryString: opts.query ?? '', headers,
    requestContext: {
      accountId: '123456789012', apiId: 'api', domainName: 'api.example.com', domainPrefix: 'api', requestId: 'req-1', routeKey: '$default',
      stage: '$default', time: '29/Nov/2026:04:50:00 +0000', timeEpoch: 1796000000000,
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'curl/8' },
    },
    body, isBase64Encoded: false,
  };
}

const context = { functionName: 'api', awsRequestId: 'req-1' };

before(async () => {
  s3 = await startS3Server();
  batch = await startBatchWireServer();
  await s3.createBucket('registry');
  const registry = new Registry(s3.client, { bucket: 'registry', prefix: '' });
  const dir = mkdtempSync(join(tmpdir(), 'lambda-'));
  for (const f of ['config.json', 'model.safetensors']) writeFileSync(join(dir, f), '{}');
  await registry.uploadModel('tiny', dir, ['config.json', 'model.safetensors']);
  Object.assign(process.env, s3.env, batch.env, {
    ADAPTER_STORE_REGISTRY: 's3://registry', ADAPTER_STORE_API_KEYS: 'secret-key', BATCH_JOB_QUEUE: 'gpu-queue',
    BATCH_JOB_DEFINITION: 'trainer:1', ADAPTER_STORE_DEFAULT_BASE_MODEL: 'tiny',
  });
  ({ handler } = await import('../../functions/lambda.ts'));
});

after(async () => {
  process.env = saved;
  await s3?.stop();
  await batch?.stop();
});

test('GET /healthz needs no key; other routes answer 401 problem+json without one', async () => {
  const ok = await handler(event('GET', '/healthz') as never, context as never);
  assert.equal(ok.statusCode, 200);
  const denied = await handler(event('GET', '/adapters') as never, context as never);
  assert.equal(denied.statusCode, 401);
  assert.match(String(denied.headers?.['content-type']), /application\/problem\+json/);
});

test('POST /finetune through API Gateway submits a Batch job with the registry location and job id', async () => {
  const res = await handler(event('POST', '/finetune', { key: 'secret-key', body: { task: 'sst2', datasetUri: 's3://registry/datasets/train.jsonl' } }) as never, context as never);
  assert.equal(res.statusCode, 202, res.body);
  const job = JSON.parse(res.body);
  assert.equal(res.headers?.location, `/finetune/${job.jobId}`);
  const submitted = batch.requests.filter((r) => r.op === 'submitjob');
  assert.equal(submitted.length, 1);
  assert.equal(submitted[0].body.jobQueue, 'gpu-queue');
  const env = (submitted[0].body.containerOverrides as { environment: { name: string; value: string }[] }).environment;
  assert.deepEqual(Object.fromEntries(env.map((e) => [e.name, e.value])), { ADAPTER_STORE_REGISTRY: 's3://registry', ADAPTER_STORE_JOB_ID: job.jobId });

  const got = await handler(event('GET', `/finetune/${job.jobId}`, { key: 'secret-key' }) as never, context as never);
  assert.equal(got.statusCode, 200);
  assert.equal(JSON.parse(got.body).jobId, job.jobId);
});
