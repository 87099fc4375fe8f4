/** Dataset URIs: local paths, file:// URLs and s3://bucket/key; anything else is named. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { readDataset } from '../../../shared/training-data/dataset.ts';
import { openDatasetStream, parseDatasetUri } from '../../../shared/training-data/uri.ts';
import { jsonl, opts, tempDir } from './helpers.ts';

const { dir, file } = tempDir('data-uri-');

test('parseDatasetUri: local paths, file:// URLs (percent-decoded), s3://bucket/key', () => {
  assert.deepEqual(parseDatasetUri('data/train.jsonl'), { kind: 'file', path: 'data/train.jsonl', uri: 'data/train.jsonl' });
  assert.deepEqual(parseDatasetUri('/abs/x.csv'), { kind: 'file', path: '/abs/x.csv', uri: '/abs/x.csv' });
  assert.deepEqual(parseDatasetUri('file:///tmp/my%20data/x.csv'), {
    kind: 'file',
    path: '/tmp/my data/x.csv',
    uri: 'file:///tmp/my%20data/x.csv',
  });
  assert.deepEqual(parseDatasetUri('s3://my-bucket/glue/sst2/train.jsonl'), {
    kind: 's3',
    bucket: 'my-bucket',
    key: 'glue/sst2/train.jsonl',
    uri: 's3://my-bucket/glue/sst2/train.jsonl',
  });
  assert.deepEqual(parseDatasetUri('S3://my.bucket/k'), { kind: 's3', bucket: 'my.bucket', key: 'k', uri: 'S3://my.bucket/k' });
  // A colon in a local name is not a scheme unless "//" follows.
  assert.equal(parseDatasetUri('runs/v1:train.jsonl').kind, 'file');
});

test('parseDatasetUri: unsupported schemes and malformed S3 URIs are DataErrors naming the problem', () => {
  const cases: [string, string][] = [
    [
      'https://example.com/d.csv',
      'https://example.com/d.csv: unsupported scheme "https:" (datasets are a local path, file:// or s3://bucket/key)',
    ],
    ['gs://bucket/d.csv', 'gs://bucket/d.csv: unsupported scheme "gs:" (datasets are a local path, file:// or s3://bucket/key)'],
    ['hf://datasets/glue', 'hf://datasets/glue: unsupported scheme "hf:" (datasets are a local path, file:// or s3://bucket/key)'],
    ['s3://bucket', 's3://bucket: an S3 dataset URI must look like s3://bucket/key'],
    ['s3://bucket/', 's3://bucket/: an S3 dataset URI must look like s3://bucket/key'],
    ['s3:bucket/key', 's3:bucket/key: an S3 dataset URI must look like s3://bucket/key'],
    ['s3://Bad_Bucket/key', 's3://Bad_Bucket/key: "Bad_Bucket" is not a valid S3 bucket name'],
    ['s3://bucket/dir/', "s3://bucket/dir/: the key names a folder; give the object's key"],
    ['file://otherhost/x.csv', 'file://otherhost/x.csv: not a usable file:// URL (File URL host must be "localhost" or empty on linux)'],
    ['', 'dataset: empty path or URI'],
  ];
  for (const [uri, message] of cases) assert.throws(() => parseDatasetUri(uri), { name: 'DataError', message }, uri);
});

test('a local path and its file:// URL read the same rows, with the same names in messages', async () => {
  const p = file('same rows.jsonl', jsonl({ text: 'a', label: 'x' }, { text: 'bc', text_pair: 'd', label: 'y' }));
  const url = pathToFileURL(p).href;
  assert.match(url, /same%20rows\.jsonl$/);
  const [a, b] = [await readDataset(p, opts), await readDataset(url, opts)];
  assert.deepEqual(b.rows, a.rows);
  assert.equal(a.name, p);
  assert.equal(b.name, p, 'file:// names the path in messages');
  const bad = file('bad.jsonl', '{"text":"a"}\n');
  await assert.rejects(readDataset(pathToFileURL(bad).href, opts), { message: `${bad}:1: missing field "label"` });
});

test('openDatasetStream on a local file: a byte stream with its size; missing files fail up front', async () => {
  const p = file('bytes.csv', 'text,label\nx,1\n');
  const s = await openDatasetStream(p);
  assert.equal(s.name, p);
  assert.equal(s.bytes, 15);
  const chunks: Buffer[] = [];
  for await (const c of s.stream) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), 'text,label\nx,1\n');
  const missing = join(dir, 'nope.csv');
  await assert.rejects(openDatasetStream(missing), { name: 'DataError', message: `${missing}: cannot read (ENOENT)` });
  await assert.rejects(openDatasetStream(pathToFileURL(missing).href), { name: 'DataError', message: `${missing}: cannot read (ENOENT)` });
  await assert.rejects(openDatasetStream(dir), { name: 'DataError', message: `${dir}: not a file` });
});
