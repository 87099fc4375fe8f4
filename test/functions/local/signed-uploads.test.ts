/**
 * The local server's signed upload URLs (its stand-in for presigned S3 PUTs): POST /datasets with
 * {name, bytes} answers a URL on the server that stores exactly those bytes at the dataset URI without
 * a bearer key; an altered, expired or reused URL, or a body of another length, stores nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { createApp } from '../../../functions/app.ts';
import { signedUploads } from '../../../functions/local/signed-uploads.ts';
import { Registry } from '../../../shared/registry/index.ts';
import { idleLauncher } from '../../support/idle-launcher.ts';

const KEY = 'signed-uploads-test-key';
const root = join(mkdtempSync(join(tmpdir(), 'signed-uploads-')), 'adapter-store');
const registry = Registry.fromUri(pathToFileURL(root).href);
let clock = new Date('2026-01-01T00:00:00Z');
const uploads = signedUploads({ registry, apiKey: KEY, baseUrl: () => 'http://127.0.0.1:9', now: () => clock });
const launcher = idleLauncher;
const app = createApp({
  registry,
  launcher,
  apiKeys: [KEY],
  allowedDatasetBuckets: ['adapter-store'],
  defaultBaseModel: 'tiny',
  downloads: 'stream',
  log: () => {},
  signUploadUrl: uploads.sign,
  now: () => clock,
});

const DATA = '{"text": "a fine film", "label": "positive"}\n{"text": "a dull film", "label": "negative"}\n';

async function ask(name: string, bytes: number): Promise<{ datasetUri: string; uploadUrl: string }> {
  const res = await app.request('/datasets', {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, bytes }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { datasetUri: string; uploadUrl: string };
}

const put = (url: string, body: string) => uploads.handle(new Request(url, { method: 'PUT', body }));

test('the signed URL stores exactly the bytes at the dataset URI, once, with no bearer key', async () => {
  const { datasetUri, uploadUrl } = await ask('large.jsonl', Buffer.byteLength(DATA));
  assert.match(datasetUri, /^s3:\/\/adapter-store\/datasets\/uploads\/\d{8}T\d{9}Z-[0-9a-f]{16}\/large\.jsonl$/);
  assert.ok(uploads.matches(new Request(uploadUrl)), uploadUrl);
  assert.equal((await put(uploadUrl, DATA)).status, 200);
  assert.equal(readFileSync(join(root, datasetUri.slice('s3://adapter-store/'.length)), 'utf8'), DATA);
  const again = await put(uploadUrl, DATA);
  assert.equal(again.status, 412, 'an upload is never replaced');
  // The detail names the object as clients know it, never the server's path.
  const detail = ((await again.json()) as { detail: string }).detail;
  assert.equal(detail, `${datasetUri} already exists and is immutable`);
  assert.ok(!detail.includes(root) && !detail.includes('file:'), detail);
  assert.equal(await registry.objectState('adapter-store', datasetUri.slice('s3://adapter-store/'.length)), 'exists');
});

test('altered, expired, mis-sized or non-PUT requests store nothing', async () => {
  const { datasetUri, uploadUrl } = await ask('other.jsonl', Buffer.byteLength(DATA));
  const key = datasetUri.slice('s3://adapter-store/'.length);
  const altered = uploadUrl.replace('other.jsonl', 'evil.jsonl');
  assert.equal((await put(altered, DATA)).status, 403);
  assert.equal((await put(uploadUrl.replace(/bytes=\d+/, 'bytes=5'), 'short')).status, 403, 'the size is signed');
  assert.equal((await put(uploadUrl, `${DATA}more`)).status, 400, 'a longer body');
  assert.equal((await put(uploadUrl, DATA.slice(1))).status, 400, 'a shorter body');
  assert.equal((await uploads.handle(new Request(uploadUrl, { method: 'GET' }))).status, 405);
  clock = new Date(clock.getTime() + 3600_000);
  assert.equal((await put(uploadUrl, DATA)).status, 403, 'expired');
  assert.equal(await registry.objectState('adapter-store', key), 'missing');
});
