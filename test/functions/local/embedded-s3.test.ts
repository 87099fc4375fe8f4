/**
 * The embedded store of `npm start` (s3rver on a directory) through the AWS SDK: conditional writes
 * hold (single PUTs, racing PUTs, multipart completions), objects survive a restart, listings paginate,
 * and stream uploads are stored as their bytes. Runs under --openssl-legacy-provider (test/run.mjs), as
 * `npm start` does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { EMBEDDED_CREDENTIALS, startEmbeddedS3, type EmbeddedS3 } from '../../../functions/local/embedded-s3.ts';

const dir = mkdtempSync(join(tmpdir(), 'embedded-s3-'));
let store: EmbeddedS3 | undefined;

after(async () => {
  await store?.stop();
});

function client(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: EMBEDDED_CREDENTIALS, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
}

const status = (err: unknown) => (err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined);

test('If-None-Match: * never overwrites, and of racing writes exactly one wins', async () => {
  store = await startEmbeddedS3({ directory: dir, buckets: ['store'] });
  const s3 = client(store.endpoint);
  await s3.send(new PutObjectCommand({ Bucket: 'store', Key: 'v/1/manifest.json', Body: 'first', IfNoneMatch: '*' }));
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket: 'store', Key: 'v/1/manifest.json', Body: 'second', IfNoneMatch: '*' })), (e) => status(e) === 412);
  const got = await s3.send(new GetObjectCommand({ Bucket: 'store', Key: 'v/1/manifest.json' }));
  assert.equal(await got.Body!.transformToString(), 'first');

  const racers = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: 'store', Key: 'claim', Body: `racer ${i}`, IfNoneMatch: '*' }))));
  assert.equal(racers.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(racers.every((r) => r.status === 'fulfilled' || status(r.reason) === 412));

  // Without the condition, a write replaces (status.json is rewritten as a job runs).
  await s3.send(new PutObjectCommand({ Bucket: 'store', Key: 'claim', Body: 'replaced' }));
});

test('multipart completions honour If-None-Match; stream uploads are stored as their bytes', async () => {
  const s3 = client(store!.endpoint);
  const big = randomBytes(6 * 1024 * 1024);
  await new Upload({ client: s3, params: { Bucket: 'store', Key: 'big', Body: Readable.from([big.subarray(0, 3e6), big.subarray(3e6)]), IfNoneMatch: '*' }, partSize: 5 * 1024 * 1024 }).done();
  const back = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'store', Key: 'big' }))).Body!.transformToByteArray());
  assert.ok(back.equals(big));
  await assert.rejects(new Upload({ client: s3, params: { Bucket: 'store', Key: 'big', Body: randomBytes(6 * 1024 * 1024), IfNoneMatch: '*' }, partSize: 5 * 1024 * 1024 }).done(), (e) => status(e) === 412);
});

test('a read racing rewrites of an object sees one whole version, never a torn one', async () => {
  const s3 = client(store!.endpoint);
  const versions = Array.from({ length: 25 }, (_, i) => JSON.stringify({ state: 'running', step: i, pad: String(i % 10).repeat(200_000) }));
  const seen = new Set<string>();
  await s3.send(new PutObjectCommand({ Bucket: 'store', Key: 'jobs/x/status.json', Body: versions[0] }));
  let writing = true;
  const reader = (async () => {
    while (writing) seen.add(await (await s3.send(new GetObjectCommand({ Bucket: 'store', Key: 'jobs/x/status.json' }))).Body!.transformToString());
  })();
  for (const v of versions) await s3.send(new PutObjectCommand({ Bucket: 'store', Key: 'jobs/x/status.json', Body: v }));
  writing = false;
  await reader;
  assert.ok(seen.size > 0);
  for (const body of seen) assert.ok(versions.includes(body), `a torn read of ${body.length} bytes`);
});

test('objects survive a restart on the same directory, and listings paginate', async () => {
  await store!.stop();
  store = await startEmbeddedS3({ directory: dir, buckets: ['store'] });
  const s3 = client(store.endpoint);
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: 'store', Key: 'v/1/manifest.json' }))).Body!.transformToString(), 'first');
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: 'store', MaxKeys: 1, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  assert.deepEqual(keys, ['big', 'claim', 'jobs/x/status.json', 'v/1/manifest.json']);
});
