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
import { RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import { Registry } from '../../shared/registry/index.ts';
import { type BatchEmulatorServer, startBatchEmulator } from '../emulators/batch/server.ts';
import { invokeLambda } from '../support/api-gateway.ts';
import { type S3TestServer, startS3Server } from '../support/s3-server.ts';

let s3: S3TestServer;
let batch: BatchEmulatorServer;
let handler: typeof import('../../functions/lambda.ts').handler;
const saved = { ...process.env };

before(async () => {
  s3 = await startS3Server();
  // Jobs are accepted and stay SUBMITTED: these tests look at what the API submits, not at training.
  batch = await startBatchEmulator({ jobQueues: ['gpu-queue'], dispatch: false });
  await batch.client.send(
    new RegisterJobDefinitionCommand({
      jobDefinitionName: 'trainer',
      type: 'container',
      containerProperties: { image: 'adapter-store-trainer' },
    }),
  );
  await s3.createBucket('registry');
  const registry = Registry.fromUri('s3://registry', s3.client);
  const dir = mkdtempSync(join(tmpdir(), 'lambda-'));
  for (const f of ['config.json', 'model.safetensors']) writeFileSync(join(dir, f), '{}');
  await registry.models.upload('tiny', dir, ['config.json', 'model.safetensors']);
  await s3.putObject('registry', 'datasets/train.jsonl', '{"text": "fine", "label": 1}\n');
  Object.assign(process.env, s3.env, batch.env, {
    ADAPTER_STORE_REGISTRY: 's3://registry',
    ADAPTER_STORE_API_KEYS: 'secret-key',
    BATCH_JOB_QUEUE: 'gpu-queue',
    BATCH_JOB_DEFINITION: 'trainer:1',
    ADAPTER_STORE_DEFAULT_BASE_MODEL: 'tiny',
  });
  ({ handler } = await import('../../functions/lambda.ts'));
});

after(async () => {
  process.env = saved;
  await s3?.stop();
  await batch?.stop();
});

test('GET /healthz needs no key; other routes answer 401 problem+json without one', async () => {
  const ok = await invokeLambda(handler, 'GET', '/healthz');
  assert.equal(ok.status, 200);
  const denied = await invokeLambda(handler, 'GET', '/adapters');
  assert.equal(denied.status, 401);
  assert.match(denied.headers['content-type'], /application\/problem\+json/);
});

test('POST /finetune through API Gateway submits a Batch job with the registry location and job id', async () => {
  const res = await invokeLambda(handler, 'POST', '/finetune', {
    key: 'secret-key',
    body: { task: 'sst2', datasetUri: 's3://registry/datasets/train.jsonl' },
  });
  assert.equal(res.status, 202, res.text);
  const job = res.json<{ jobId: string }>();
  assert.equal(res.headers.location, `/finetune/${job.jobId}`);
  const submitted = batch.requests.filter((r) => r.op === 'submitjob');
  assert.equal(submitted.length, 1);
  assert.equal(submitted[0].body.jobQueue, 'gpu-queue');
  const env = (submitted[0].body.containerOverrides as { environment: { name: string; value: string }[] }).environment;
  assert.deepEqual(Object.fromEntries(env.map((e) => [e.name, e.value])), {
    ADAPTER_STORE_REGISTRY: 's3://registry',
    ADAPTER_STORE_JOB_ID: job.jobId,
  });

  const got = await invokeLambda(handler, 'GET', `/finetune/${job.jobId}`, { key: 'secret-key' });
  assert.equal(got.status, 200);
  assert.equal(got.json<{ jobId: string }>().jobId, job.jobId);
});

test('a key removed from the secret stops working on a warm container within the TTL; a failed re-read keeps the last list', async () => {
  const { depsFromEnv } = await import('../../functions/lambda.ts');
  const { apiKeySource } = await import('../../functions/lambda-keys.ts');
  const { createApp } = await import('../../functions/app.ts');
  let secret = 'old-key-0123456789,new-key-0123456789';
  let reads = 0;
  let failing = false;
  const readSecret = async (id: string) => {
    assert.equal(id, 'arn:secret');
    reads++;
    if (failing) throw new Error('Secrets Manager is unreachable');
    return secret;
  };
  let clock = 0;
  const warnings: string[] = [];
  const env = {
    ...process.env,
    ADAPTER_STORE_API_KEYS: undefined,
    ADAPTER_STORE_API_KEY_SECRET: 'arn:secret',
    ADAPTER_STORE_API_KEYS_TTL_SECONDS: '60',
  };
  const app = createApp({
    ...depsFromEnv(env, apiKeySource(env, readSecret, { now: () => clock, log: (m) => warnings.push(m) })),
    log: () => {},
  });
  const status = async (key: string) => (await app.request('/adapters', { headers: { authorization: `Bearer ${key}` } })).status;

  assert.equal(await status('old-key-0123456789'), 200);
  assert.equal(await status('new-key-0123456789'), 200);
  secret = 'new-key-0123456789'; // the operator removes the old key
  clock = 59_000;
  assert.equal(await status('old-key-0123456789'), 200, 'within the TTL the cached list still holds');
  assert.equal(reads, 1, 'one read per TTL, not per request');
  clock = 61_000;
  assert.equal(await status('old-key-0123456789'), 401, 'revoked after the TTL');
  assert.equal(await status('new-key-0123456789'), 200);
  assert.equal(reads, 2);

  failing = true;
  clock = 130_000;
  assert.equal(await status('new-key-0123456789'), 200, 'a failed re-read keeps the last good list');
  assert.equal(await status('old-key-0123456789'), 401);
  assert.match(warnings.join('\n'), /API key reload failed; keeping the last list/);
  assert.equal(reads, 3, 'and is not retried on every request');
});

test('the key variables: a TTL that is not a number of seconds, or no key source at all, is refused by name', async () => {
  const { apiKeySource } = await import('../../functions/lambda-keys.ts');
  const never = async () => assert.fail('the secret is not read while the app is built');
  const env = { ADAPTER_STORE_API_KEY_SECRET: 'arn:secret' };
  for (const bad of ['-1', 'soon', '2m'])
    assert.throws(
      () => apiKeySource({ ...env, ADAPTER_STORE_API_KEYS_TTL_SECONDS: bad }, never),
      new RegExp(`^EnvError: ADAPTER_STORE_API_KEYS_TTL_SECONDS must be a number >= 0, got "${bad}"$`),
    );
  assert.throws(() => apiKeySource({}, never), /^EnvError: environment variable ADAPTER_STORE_API_KEY_SECRET is not set$/);
  assert.deepEqual(apiKeySource({ ADAPTER_STORE_API_KEYS: ' a-key, b-key ,' }, never), ['a-key', 'b-key']);
});
