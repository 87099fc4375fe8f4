/**
 * s3:// datasets against a real S3-compatible server on loopback (test/support/s3-server.ts), with the
 * client built from the standard AWS environment as in production; S3 errors in the user's terms.
 * Also the harness's own guarantees that later tests (the registry, the API) rely on.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readDataset } from '../../../shared/training-data/dataset.ts';
import { openDatasetStream } from '../../../shared/training-data/uri.ts';
import { type S3TestServer, startS3Server } from '../../support/s3-server.ts';
import { expectIds, gzip, jsonl, opts, tempDir } from './helpers.ts';

let s3: S3TestServer;
let restoreEnv: () => void;
const rows = [
  { text: 'good', label: 'pos' },
  { text: 'bad', text_pair: 'very', label: 'neg' },
];

before(async () => {
  s3 = await startS3Server();
  restoreEnv = s3.useEnv();
  await s3.createBucket('data');
  await s3.putObject('data', 'glue/train.jsonl', jsonl(...rows));
  await s3.putObject('data', 'glue/train.csv.gz', gzip('text,text_pair,label\ngood,,pos\nbad,very,neg\n'));
  await s3.putObject('data', 'bad.jsonl', `${jsonl(rows[0])}{"text": "x"}\n`);
  await s3.putObject('data', 'noext', jsonl(...rows));
});

after(async () => {
  restoreEnv();
  await s3.stop();
});

test('s3://bucket/key reads like a local file, through a client from the standard AWS environment', async () => {
  assert.equal(process.env.AWS_ENDPOINT_URL_S3, s3.endpoint);
  const { file } = tempDir('data-s3-');
  const local = await readDataset(file('train.jsonl', jsonl(...rows)), opts);
  const remote = await readDataset('s3://data/glue/train.jsonl', opts);
  assert.equal(remote.name, 's3://data/glue/train.jsonl');
  assert.deepEqual(remote.rows, local.rows);
  assert.deepEqual(
    remote.rows.map((r) => [...r.inputIds]),
    [expectIds('good'), expectIds('bad', 'very')],
  );
  const csv = await readDataset('s3://data/glue/train.csv.gz', opts);
  assert.equal(csv.format, 'csv');
  assert.deepEqual(
    csv.rows.map((r) => [[...r.inputIds], r.label]),
    local.rows.map((r) => [[...r.inputIds], r.label]),
  );
  // An explicit client works the same (the registry's, for instance).
  assert.deepEqual((await readDataset('s3://data/glue/train.jsonl', { ...opts, s3: s3.client })).rows, local.rows);
});

test("openDatasetStream on S3: the object's bytes as a stream, with its size", async () => {
  const s = await openDatasetStream('s3://data/glue/train.jsonl');
  assert.equal(s.name, 's3://data/glue/train.jsonl');
  const chunks: Buffer[] = [];
  for await (const c of s.stream) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), jsonl(...rows));
  assert.equal(s.bytes, Buffer.byteLength(jsonl(...rows)));
});

test('row errors name the s3:// URI and line; the format comes from the key or --format', async () => {
  await assert.rejects(readDataset('s3://data/bad.jsonl', opts), {
    name: 'DataError',
    message: 's3://data/bad.jsonl:2: missing field "label"',
  });
  const skipped = await readDataset('s3://data/bad.jsonl', { ...opts, maxBadRows: 1 });
  assert.deepEqual(skipped.skipped, [{ line: 2, reason: 'missing field "label"' }]);
  await assert.rejects(readDataset('s3://data/noext', opts), { message: /^s3:\/\/data\/noext: cannot tell the format from the file name/ });
  assert.equal((await readDataset('s3://data/noext', { ...opts, format: 'jsonl' })).rows.length, 2);
});

test('S3 errors: a missing key and a missing bucket are DataErrors naming the URI', async () => {
  await assert.rejects(readDataset('s3://data/glue/missing.jsonl', opts), {
    name: 'DataError',
    message: 's3://data/glue/missing.jsonl: no such object (NoSuchKey: bucket "data" has no key "glue/missing.jsonl")',
  });
  await assert.rejects(readDataset('s3://no-such-bucket/train.jsonl', opts), {
    name: 'DataError',
    message: 's3://no-such-bucket/train.jsonl: no such bucket "no-such-bucket" (NoSuchBucket)',
  });
});

test('S3 errors: access denied (from a server that denies everything) and an unreachable endpoint', async () => {
  const deny = createServer((req, res) => {
    req.resume();
    res.writeHead(403, { 'content-type': 'application/xml' });
    res.end(
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>1</RequestId></Error>',
    );
  });
  await new Promise<void>((r) => deny.listen(0, '127.0.0.1', r));
  const port = (deny.address() as AddressInfo).port;
  const client = (endpoint: string): S3Client =>
    new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
  try {
    await assert.rejects(readDataset('s3://data/train.jsonl', { ...opts, s3: client(`http://127.0.0.1:${port}`) }), {
      name: 'DataError',
      message: 's3://data/train.jsonl: access denied (AccessDenied); check the AWS credentials and the bucket policy',
    });
  } finally {
    await new Promise<void>((r) => deny.close(() => r()));
  }
  // The same port, now closed.
  await assert.rejects(readDataset('s3://data/train.jsonl', { ...opts, s3: client(`http://127.0.0.1:${port}`) }), {
    name: 'DataError',
    message: /^s3:\/\/data\/train\.jsonl: cannot reach the S3 endpoint \(ECONNREFUSED/,
  });
});

test('a large object (~8 MB, 100,000 rows) streams from S3; a bad row early ends the read', async () => {
  const N = 100_000;
  const big = jsonl(...Array.from({ length: N }, (_, i) => ({ input_ids: [1, 3 + (i % 290), 2], label: i % 2, note: 'x'.repeat(50) })));
  assert.ok(big.length > 7e6 && big.length < 11 * 1024 * 1024, `${big.length} bytes (the server takes up to 11 MiB a request)`);
  await s3.putObject('data', 'big.jsonl', big);
  const ds = await readDataset('s3://data/big.jsonl', { ...opts, tokenizer: undefined });
  assert.equal(ds.rows.length, N);
  assert.deepEqual([...ds.rows[N - 1].inputIds], [1, 3 + ((N - 1) % 290), 2]);
  // An error on line 2 ends the read at once; the connection is released (the next request works).
  await s3.putObject('data', 'big-bad.jsonl', `{"input_ids":[1],"label":0}\n{"input_ids":[999],"label":0}\n${big}`);
  await assert.rejects(readDataset('s3://data/big-bad.jsonl', { ...opts, tokenizer: undefined }), {
    message: 's3://data/big-bad.jsonl:2: token id 999 at position 0 is outside the vocabulary [0, 300)',
  });
  assert.equal((await readDataset('s3://data/glue/train.jsonl', opts)).rows.length, 2);
});

// --- the harness itself ----------------------------------------------------------------------------------

test('harness: a streamed upload (aws-chunked) is stored byte for byte', async () => {
  const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
  await s3.putObject('data', 'stream.bin', Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]), body.length);
  const r = await s3.client.send(new GetObjectCommand({ Bucket: 'data', Key: 'stream.bin' }));
  assert.ok(Buffer.from(await r.Body!.transformToByteArray()).equals(body));
});

test('harness: conditional writes are enforced (If-None-Match: *, If-Match), and racing creates have one winner', async () => {
  const put = (key: string, body: string, cond: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
    s3.client.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: body, ...cond }));
  const status = (p: Promise<unknown>): Promise<number> =>
    p.then(
      () => 200,
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode ?? -1,
    );
  assert.equal(await status(put('cond/a', 'one', { IfNoneMatch: '*' })), 200);
  assert.equal(await status(put('cond/a', 'two', { IfNoneMatch: '*' })), 412);
  const got = await s3.client.send(new GetObjectCommand({ Bucket: 'data', Key: 'cond/a' }));
  assert.equal(await got.Body!.transformToString(), 'one', 'the refused write changed nothing');
  assert.equal(await status(put('cond/a', 'three', { IfMatch: '"not-the-etag"' })), 412);
  assert.equal(await status(put('cond/a', 'three', { IfMatch: got.ETag })), 200);
  assert.equal(await status(put('cond/missing', 'x', { IfMatch: got.ETag })), 404);
  assert.equal(await status(put('cond/a', 'plain overwrite')), 200, 'unconditional writes still overwrite');
  const race = await Promise.all(Array.from({ length: 8 }, (_, i) => status(put('cond/race', `writer ${i}`, { IfNoneMatch: '*' }))));
  assert.deepEqual(race.filter((s) => s === 200).length, 1, `statuses ${race}`);
  assert.deepEqual(race.filter((s) => s === 412).length, 7);
});

test('harness: binds loopback only, on a port of its own', async () => {
  assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  const other = await startS3Server({ conditionalWrites: false });
  try {
    assert.notEqual(other.endpoint, s3.endpoint);
    await other.createBucket('b');
    await other.putObject('b', 'k', 'v');
    await other.client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'w', IfNoneMatch: '*' }));
    const r = await other.client.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }));
    assert.equal(await r.Body!.transformToString(), 'w', 'without enforcement, fauxqs ignores If-None-Match (as documented)');
  } finally {
    await other.stop();
  }
});
