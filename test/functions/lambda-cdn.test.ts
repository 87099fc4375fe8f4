/**
 * With ADAPTER_STORE_CDN_URL set, the Lambda's downloads redirect to a CloudFront signed URL for the
 * adapter file's registry key: checked by verifying the signature (RSA-SHA1 over the canned policy, as
 * CloudFront does) with the public half of a key generated here, and by its expiry and key pair id.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApp } from '../../functions/app.ts';
import { depsFromEnv } from '../../functions/lambda.ts';
import type { AdapterManifest } from '../../shared/manifest.ts';
import { Registry } from '../../shared/registry/index.ts';
import { type S3TestServer, startS3Server } from '../support/s3-server.ts';
import { writeTinyBert } from '../support/tiny-bert.ts';

let s3: S3TestServer;
let restoreEnv: () => void;
let manifest: AdapterManifest;
let baseDir: string;
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const secretReads: string[] = [];

const ENV = {
  ADAPTER_STORE_REGISTRY: 's3://registry',
  BATCH_JOB_QUEUE: 'q',
  BATCH_JOB_DEFINITION: 'd',
  ADAPTER_STORE_CDN_URL: 'https://d111111abcdef8.cloudfront.net/',
  ADAPTER_STORE_CDN_KEY_PAIR_ID: 'K2JCJMDEHXQW5F',
  ADAPTER_STORE_CDN_PRIVATE_KEY_SECRET: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:cdn-key',
};

before(async () => {
  s3 = await startS3Server();
  restoreEnv = s3.useEnv();
  await s3.createBucket('registry');
  const registry = Registry.fromUri('s3://registry', s3.client);
  const dir = mkdtempSync(join(tmpdir(), 'cdn-'));
  for (const f of ['adapter.safetensors', 'adapter_config.json', 'metrics.json']) writeFileSync(join(dir, f), '{}');
  baseDir = join(dir, 'tiny');
  writeTinyBert(baseDir);
  await registry.models.upload('tiny', baseDir, ['config.json', 'model.safetensors', 'vocab.txt']);
  manifest = await registry.adapters.publish(dir, {
    task: 'sst2',
    jobId: null,
    baseModel: { name: 'b', weightsSha256: 'ab'.repeat(32) },
    mode: 'adapter',
    labels: ['a', 'b'],
    parameters: { trainable: 1, total: 2 },
    metrics: null,
  });
});

after(async () => {
  restoreEnv?.();
  await s3?.stop();
});

/** CloudFront's URL-safe base64: + -> -, = -> _, / -> ~. */
const fromCloudFrontBase64 = (s: string) => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64');

test('downloads redirect to a CloudFront URL for the file key, signed with the secret key', async () => {
  const deps = depsFromEnv({ ...ENV }, ['k'], async (id) => {
    secretReads.push(id);
    return pem;
  });
  const app = createApp({ ...deps, log: () => {} });
  const before = Math.floor(Date.now() / 1000);
  const res = await app.request('/adapters/sst2/download', { headers: { authorization: 'Bearer k' } });
  assert.equal(res.status, 302);
  const location = new URL(res.headers.get('location')!);
  assert.equal(
    `${location.origin}${location.pathname}`,
    `https://d111111abcdef8.cloudfront.net/adapters/sst2/${manifest.version}/adapter.safetensors`,
  );
  assert.equal(location.searchParams.get('Key-Pair-Id'), ENV.ADAPTER_STORE_CDN_KEY_PAIR_ID);
  const after = Math.ceil(Date.now() / 1000);
  const expires = Number(location.searchParams.get('Expires'));
  assert.ok(expires > before && expires <= after + 300, `expires ${expires} within 5 minutes of the request`);
  const resource = `${location.origin}${location.pathname}`;
  const policy = JSON.stringify({ Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': expires } } }] });
  const signature = fromCloudFrontBase64(location.searchParams.get('Signature')!);
  assert.ok(verify('RSA-SHA1', Buffer.from(policy), publicKey, signature), 'the signature verifies with the public key');
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  assert.ok(!verify('RSA-SHA1', Buffer.from(policy), other, signature), 'and not with another key');

  await app.request('/adapters/sst2/download', { headers: { authorization: 'Bearer k' } });
  assert.deepEqual(secretReads, [ENV.ADAPTER_STORE_CDN_PRIVATE_KEY_SECRET], 'the private key is read once per container');
});

test('base model files redirect to an S3 presigned URL, not the CDN (CloudFront may read adapters/* only)', async () => {
  const deps = depsFromEnv({ ...ENV }, ['k'], async () => pem);
  const app = createApp({ ...deps, log: () => {} });
  const res = await app.request('/models/tiny/files/config.json', { headers: { authorization: 'Bearer k' } });
  assert.equal(res.status, 302, await res.clone().text());
  const location = new URL(res.headers.get('location')!);
  assert.notEqual(location.hostname, 'd111111abcdef8.cloudfront.net');
  assert.match(location.pathname, /\/registry\/models\/tiny\/config\.json$|^\/models\/tiny\/config\.json$/);
  assert.ok(location.searchParams.has('X-Amz-Signature'), 'a SigV4 presigned URL');
  const fetched = await fetch(location);
  assert.equal(fetched.status, 200);
  assert.equal(await fetched.text(), readFileSync(join(baseDir, 'config.json'), 'utf8'));
});

test('a CDN URL without its key pair id or secret is a configuration error at start', () => {
  const { ADAPTER_STORE_CDN_KEY_PAIR_ID: _, ...missing } = ENV;
  assert.throws(() => depsFromEnv(missing, ['k']), /ADAPTER_STORE_CDN_KEY_PAIR_ID is not set/);
  assert.throws(() => depsFromEnv({ ...ENV, ADAPTER_STORE_REGISTRY: 's3://registry/tenant-a' }, ['k']), /must be a bucket root/);
});
