/**
 * GET /adapters/:task/download from a local directory store serves only the published bytes: a planted
 * link in place of a file is not followed, and a file changed after publishing (checked against the
 * manifest's sha256 as it streams) ends the response with an error instead of arriving complete.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { createApp } from '../../../functions/app.ts';
import type { LogLine } from '../../../functions/http/logging.ts';
import { FileObjectStore } from '../../../shared/file-object-store.ts';
import { queuedStatus } from '../../../shared/job.ts';
import { Registry } from '../../../shared/registry/index.ts';
import { CountingStore } from '../../support/counting-store.ts';
import { idleLauncher } from '../../support/idle-launcher.ts';
import { waitUntil } from '../../support/wait.ts';

const KEY = 'adapters-route-key';
const root = join(mkdtempSync(join(tmpdir(), 'adapters-route-')), 'adapter-store');
const registry = Registry.fromUri(pathToFileURL(root).href);
const launcher = idleLauncher;
const logs: LogLine[] = [];
const app = createApp({
  registry,
  launcher,
  apiKeys: [KEY],
  allowedDatasetBuckets: ['adapter-store'],
  defaultBaseModel: 'tiny',
  downloads: 'stream',
  log: (l) => logs.push(l),
});
const outside = mkdtempSync(join(tmpdir(), 'adapters-route-outside-'));
const SECRET = 'the-server-hostname\n';
writeFileSync(join(outside, 'hostname'), SECRET);

async function publish(task: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'adapters-route-src-'));
  writeFileSync(join(dir, 'adapter.safetensors'), Buffer.alloc(3 * 1024 * 1024, 7));
  writeFileSync(join(dir, 'adapter_config.json'), '{"bottleneck":8}');
  writeFileSync(join(dir, 'metrics.json'), '{}');
  writeFileSync(join(dir, 'README.md'), '# card\n');
  const manifest = await registry.adapters.publish(dir, {
    task,
    jobId: null,
    baseModel: { name: 'tiny', weightsSha256: 'ab'.repeat(32) },
    mode: 'adapter',
    labels: ['neg', 'pos'],
    parameters: { trainable: 10, total: 100 },
    metrics: null,
  });
  rmSync(dir, { recursive: true, force: true });
  return manifest.version;
}

const download = (task: string, file: string) =>
  Promise.resolve(app.request(`/adapters/${task}/download?file=${file}`, { headers: { authorization: `Bearer ${KEY}` } }));

test('a published file downloads whole, matching its manifest', async () => {
  await publish('intact');
  const res = await download('intact', 'adapter.safetensors');
  assert.equal(res.status, 200);
  assert.equal((await res.arrayBuffer()).byteLength, 3 * 1024 * 1024);
});

/** This process's open descriptors on `path` (Linux: /proc/self/fd). */
const openOn = (path: string) =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed while listed
    }
  });

test('a download the client stops reading closes its file (no descriptor left to the garbage collector)', {
  skip: process.platform !== 'linux',
}, async () => {
  const version = await publish('cancelled');
  const file = join(root, 'adapters', 'cancelled', version, 'adapter.safetensors');
  const res = await download('cancelled', 'adapter.safetensors');
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.ok(!first.done && first.value.byteLength > 0);
  assert.equal(openOn(file).length, 1, 'the file is open while the body streams');
  await reader.cancel();
  await waitUntil('the file to be closed', () => openOn(file).length === 0, { timeoutMs: 10_000 });
});

test('a planted link (README.md -> a file outside the store) is not served', async () => {
  const version = await publish('planted');
  const readme = join(root, 'adapters', 'planted', version, 'README.md');
  rmSync(readme);
  symlinkSync(join(outside, 'hostname'), readme);
  const res = await download('planted', 'README.md');
  assert.equal(res.status, 500);
  const body = await res.text();
  assert.ok(!body.includes(SECRET.trim()), body);
  assert.ok(!body.includes(root) && !body.includes('file:'), body);
});

test('a file changed in the store after publishing fails the download instead of arriving complete', async () => {
  const version = await publish('tampered');
  // Same size, other bytes: only the sha256 tells.
  writeFileSync(join(root, 'adapters', 'tampered', version, 'adapter.safetensors'), Buffer.alloc(3 * 1024 * 1024, 8));
  const res = await download('tampered', 'adapter.safetensors');
  assert.equal(res.status, 200, 'the headers go before the last byte is read');
  await assert.rejects(res.arrayBuffer(), 'the body errors before its last chunk');
  assert.ok(logs.some((l) => l.msg === 'download does not match its manifest' && /sha256/.test(String(l.error))));
  // Another size is refused before any byte is sent.
  writeFileSync(join(root, 'adapters', 'tampered', version, 'adapter.safetensors'), Buffer.alloc(10, 8));
  assert.equal((await download('tampered', 'adapter.safetensors')).status, 500);
});

test('error details and failed-job reasons name s3:// keys, never the store directory (409 base-missing, a failed job)', async () => {
  const { PredictError } = await import('../../../serving/predictor.ts');
  // A lower layer that names the base by the store's file:// URL, as the Node predictor's base-missing did.
  const leaky = createApp({
    registry,
    launcher,
    apiKeys: [KEY],
    allowedDatasetBuckets: ['adapter-store'],
    defaultBaseModel: 'tiny',
    downloads: 'stream',
    log: () => {},
    predictor: {
      predict: async () => {
        throw new PredictError(`the adapter's base model "gone" is not in the store (${registry.uri}/models/gone/)`, 'base-missing');
      },
      close: async () => {},
    },
  });
  await publish('needs-base');
  const res = await leaky.request('/adapters/needs-base/predict', {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ text: 'x' }] }),
  });
  assert.equal(res.status, 409);
  const detail = ((await res.json()) as { detail: string }).detail;
  assert.equal(detail, `the adapter's base model "gone" is not in the store (s3://adapter-store/models/gone/)`);
  // A job the trainer failed with a message naming a dataset by its local path.
  const jobId = 'ft-0000000001aaaaaaaaaaaa';
  await registry.jobs.create({
    format: 'adapter-store.job/v1',
    jobId,
    task: 'failing',
    datasetUri: 's3://adapter-store/datasets/0123456789abcdef/train.csv',
    baseModel: 'tiny',
    hyperparameters: {},
    createdAt: new Date().toISOString(),
  });
  const at = new Date().toISOString();
  await registry.jobs.putStatus({
    ...queuedStatus(jobId, at),
    state: 'failed',
    finishedAt: at,
    error: { message: `${root}/datasets/0123456789abcdef/train.csv:3: missing field "label"` },
  });
  const job = (await (await app.request(`/finetune/${jobId}`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as {
    error: { message: string };
  };
  assert.equal(job.error.message, 's3://adapter-store/datasets/0123456789abcdef/train.csv:3: missing field "label"');
});

test('GET /adapters/:task lists the store once per TTL, not once a request; a version this process publishes shows at once', async () => {
  const counting = new CountingStore(new FileObjectStore(root));
  const clock = { now: 0 };
  const counted = new Registry(counting, '', { latestTtlMs: 2000, clock: () => clock.now });
  const countedApp = createApp({
    registry: counted,
    launcher,
    apiKeys: [KEY],
    allowedDatasetBuckets: ['adapter-store'],
    defaultBaseModel: 'tiny',
    downloads: 'stream',
    log: () => {},
  });
  const get = async (path: string) => {
    const res = await countedApp.request(path, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(res.status, 200, path);
    return res;
  };
  const latestOf = async (task: string) => ((await (await get(`/adapters/${task}`)).json()) as { latestVersion: string }).latestVersion;
  const first = await publish('hot');
  assert.equal(await latestOf('hot'), first);
  const warm = counting.snapshot();
  for (let i = 0; i < 5; i++) {
    assert.equal(await latestOf('hot'), first);
    await (await get('/adapters/hot/download?file=adapter_config.json')).arrayBuffer();
  }
  assert.equal(counting.calls.listPage, warm.listPage, 'no listing while the answer is remembered');
  assert.equal(counting.calls.get, warm.get + 5, 'only the downloaded files are read');
  // Published through the app's own registry (as the sweep reducer or a test does in-process): served at once.
  const dir = mkdtempSync(join(tmpdir(), 'adapters-route-hot-'));
  for (const f of ['adapter.safetensors', 'adapter_config.json', 'metrics.json']) writeFileSync(join(dir, f), '{}');
  const second = await counted.adapters.publish(dir, {
    task: 'hot',
    jobId: null,
    baseModel: { name: 'tiny', weightsSha256: 'ab'.repeat(32) },
    mode: 'adapter',
    labels: ['neg', 'pos'],
    parameters: { trainable: 10, total: 100 },
    metrics: null,
  });
  assert.equal(await latestOf('hot'), second.version);
  // Past the TTL the task is listed again (where a version another process published would show).
  clock.now += 2000;
  const stale = counting.snapshot();
  assert.equal(await latestOf('hot'), second.version);
  assert.equal(counting.calls.listPage, stale.listPage + 1);
});
