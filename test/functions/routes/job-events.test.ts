/**
 * GET /finetune/:jobId/events, /checkpoints and GET /adapters/:task/versions/:version/metrics on a
 * local-directory registry: the API's own events come first, in order; pages follow `after` and
 * `limit` with `hasMore`; checkpoints come from checkpoint-saved events; metrics.json is served as
 * published; bad parameters are problem+json naming the field; every route needs the bearer key;
 * a local server streams the events as Server-Sent Events.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { type AppDeps, createApp } from '../../../functions/app.ts';
import { type JobEventRecord, type NewJobEvent, newJobEvent } from '../../../shared/job-events.ts';
import type { AdapterManifest } from '../../../shared/manifest.ts';
import { Registry } from '../../../shared/registry/index.ts';
import { idleLauncher } from '../../support/idle-launcher.ts';

const KEY = 'events-key';
const AUTH = { authorization: `Bearer ${KEY}` };
let registry: Registry;
let app: OpenAPIHono;
let manifest: AdapterManifest;
const METRICS = JSON.stringify({ task: 'sst2', metric: 'accuracy', steps: [{ step: 1, epoch: 1, loss: 0.7, lr: 1e-3, gradNorm: 1 }] });

const launcher = idleLauncher;

function eventsApp(over: Partial<AppDeps> = {}): OpenAPIHono {
  return createApp({
    registry,
    launcher,
    apiKeys: [KEY],
    allowedDatasetBuckets: ['registry'],
    defaultBaseModel: 'tiny',
    downloads: 'stream',
    log: () => {},
    ...over,
  });
}

before(async () => {
  registry = Registry.fromUri(pathToFileURL(join(mkdtempSync(join(tmpdir(), 'job-events-')), 'registry')).href);
  const base = mkdtempSync(join(tmpdir(), 'job-events-base-'));
  writeFileSync(join(base, 'config.json'), '{}');
  writeFileSync(join(base, 'model.safetensors'), 'x');
  await registry.models.upload('tiny', base, ['config.json', 'model.safetensors']);
  const data = Buffer.from('{"text":"a","label":"pos"}\n');
  await registry.datasets.put('train.jsonl', createHash('sha256').update(data).digest('hex'), data);
  const dir = mkdtempSync(join(tmpdir(), 'job-events-adapter-'));
  writeFileSync(join(dir, 'adapter.safetensors'), 'w');
  writeFileSync(join(dir, 'adapter_config.json'), '{}');
  writeFileSync(join(dir, 'metrics.json'), METRICS);
  manifest = await registry.adapters.publish(dir, {
    task: 'sst2',
    jobId: null,
    baseModel: { name: 'tiny', weightsSha256: 'ab'.repeat(32) },
    mode: 'adapter',
    labels: ['neg', 'pos'],
    parameters: { trainable: 1, total: 2 },
    metrics: null,
  });
  app = eventsApp();
});

async function get<T>(path: string, status = 200, headers: Record<string, string> = AUTH): Promise<T> {
  const res = await app.request(path, { headers });
  assert.equal(res.status, status, await res.clone().text());
  return (await res.json()) as T;
}

interface Page<T> {
  object: 'list';
  data: T[];
  hasMore: boolean;
  nextCursor: string | null;
}
interface Problem {
  status: number;
  'invalid-params': { name: string }[];
}

async function createJob(): Promise<string> {
  const datasetUri = (await registry.list('datasets/')).keys.map((k) => registry.uriOf(k.key))[0];
  const res = await app.request('/finetune', {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ task: 'sst2', datasetUri }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  return ((await res.json()) as { jobId: string }).jobId;
}

const metricsEvent = (step: number): NewJobEvent =>
  newJobEvent('metrics', `step ${step}`, {
    seed: 1,
    step,
    totalSteps: 500,
    epoch: 1,
    loss: 1 / step,
    lr: 1e-3,
    gradNorm: 1,
    examplesPerSecond: 10,
    steps: 1,
  });

test('a new job logs created, dataset-validated and queued; the trainer’s pages follow, paged by after/limit', async () => {
  const jobId = await createJob();
  const first = await get<Page<JobEventRecord>>(`/finetune/${jobId}/events`);
  assert.deepEqual(
    first.data.map((e) => e.type),
    ['created', 'dataset-validated', 'queued'],
  );
  assert.equal(first.hasMore, false);
  assert.equal(first.nextCursor, null);
  const created = first.data[0];
  assert.ok(created.type === 'created');
  assert.equal(created.data.task, 'sst2');
  assert.equal(created.object, 'finetune.event');
  assert.equal(created.level, 'info');

  // The trainer's events: 250 metrics in pages of 100, then the end.
  for (let s = 0; s < 250; s += 100)
    await registry.jobs.appendEvents(
      jobId,
      Array.from({ length: Math.min(100, 250 - s) }, (_, i) => metricsEvent(s + i + 1)),
    );
  await registry.jobs.appendEvents(jobId, [newJobEvent('succeeded', 'published', { adapterVersion: manifest.version, metrics: null })]);

  const seen: JobEventRecord[] = [];
  let after = '';
  let pages = 0;
  for (;;) {
    const page = await get<Page<JobEventRecord>>(`/finetune/${jobId}/events?limit=40${after && `&after=${after}`}`);
    pages++;
    assert.ok(page.data.length <= 40);
    seen.push(...page.data);
    if (!page.hasMore) {
      assert.equal(page.nextCursor, null);
      break;
    }
    assert.equal(page.nextCursor, page.data.at(-1)!.id);
    after = page.nextCursor!;
  }
  assert.equal(pages, Math.ceil(254 / 40));
  assert.equal(seen.length, 254);
  assert.deepEqual(
    seen.map((e) => e.id),
    [...new Set(seen.map((e) => e.id))].sort(),
    'ids unique and ascending',
  );
  assert.deepEqual(
    seen.slice(3, 253).map((e) => (e.type === 'metrics' ? e.data.step : 0)),
    Array.from({ length: 250 }, (_, i) => i + 1),
  );
  assert.equal(seen.at(-1)!.type, 'succeeded');
  // Polling past the end: nothing new.
  assert.deepEqual((await get<Page<JobEventRecord>>(`/finetune/${jobId}/events?after=${seen.at(-1)!.id}`)).data, []);
});

test('cancelling a queued job logs cancel-requested and cancelled', async () => {
  const jobId = await createJob();
  const res = await app.request(`/finetune/${jobId}/cancel`, { method: 'POST', headers: AUTH });
  assert.equal(res.status, 200);
  const { data } = await get<Page<JobEventRecord>>(`/finetune/${jobId}/events`);
  assert.deepEqual(
    data.map((e) => e.type),
    ['created', 'dataset-validated', 'queued', 'cancel-requested', 'cancelled'],
  );
});

test('unknown jobs are 404; bad cursors, limits and ids are 400 naming the field; no key is 401', async () => {
  for (const path of ['/finetune/ft-nope/events', '/finetune/ft-nope/checkpoints']) {
    const p = await get<Problem>(path, 404);
    assert.equal(p.status, 404);
  }
  const jobId = await createJob();
  const cases: [string, string][] = [
    [`/finetune/${jobId}/events?after=nope`, 'after'],
    [`/finetune/${jobId}/events?limit=0`, 'limit'],
    [`/finetune/${jobId}/events?limit=1001`, 'limit'],
    [`/finetune/${jobId}/checkpoints?limit=x`, 'limit'],
    [`/finetune/${jobId}/events?stream=true`, 'stream'], // this app holds no streams (as on Lambda)
    ['/finetune/Not_A_Slug/events', 'jobId'],
    ['/adapters/sst2/versions/v1/metrics', 'version'],
  ];
  for (const [path, field] of cases) {
    const p = await get<Problem>(path, 400);
    assert.deepEqual(
      p['invalid-params'].map((i) => i.name),
      [field],
      path,
    );
  }
  for (const path of [
    `/finetune/${jobId}/events`,
    `/finetune/${jobId}/checkpoints`,
    `/adapters/sst2/versions/${manifest.version}/metrics`,
  ]) {
    await get<Problem>(path, 401, {});
    await get<Problem>(path, 401, { authorization: 'Bearer wrong' });
  }
});

test('checkpoints: one per checkpoint-saved event, with step and metrics, paged', async () => {
  const jobId = await createJob();
  assert.deepEqual(await get<Page<unknown>>(`/finetune/${jobId}/checkpoints`), {
    object: 'list',
    data: [],
    hasMore: false,
    nextCursor: null,
  });
  const validation = { loss: 0.5, accuracy: 0.8, macroF1: 0.79, mcc: 0.6, examples: 40 };
  for (const step of [100, 200, 300]) {
    await registry.jobs.appendEvents(jobId, [
      metricsEvent(step),
      newJobEvent('checkpoint-saved', `checkpoint at ${step}`, {
        seed: 1,
        step,
        trainLoss: 1 / step,
        validation: step > 100 ? validation : null,
      }),
    ]);
  }
  interface Checkpoint {
    object: string;
    id: string;
    jobId: string;
    step: number;
    createdAt: string;
    metrics: { trainLoss: number | null; validation: unknown };
  }
  const first = await get<Page<Checkpoint>>(`/finetune/${jobId}/checkpoints?limit=2`);
  assert.deepEqual(
    first.data.map((c) => c.step),
    [100, 200],
  );
  assert.equal(first.hasMore, true);
  assert.equal(first.data[0].object, 'finetune.checkpoint');
  assert.equal(first.data[0].jobId, jobId);
  assert.deepEqual(first.data[0].metrics, { trainLoss: 0.01, validation: null });
  assert.deepEqual(first.data[1].metrics.validation, validation);
  assert.ok(Date.parse(first.data[0].createdAt) > 0);
  const rest = await get<Page<Checkpoint>>(`/finetune/${jobId}/checkpoints?limit=2&after=${first.nextCursor}`);
  assert.deepEqual(
    rest.data.map((c) => c.step),
    [300],
  );
  assert.equal(rest.hasMore, false);
});

test("a version's metrics.json is served inline with its sha256 as ETag; unknown versions are 404", async () => {
  const path = `/adapters/sst2/versions/${manifest.version}/metrics`;
  const res = await app.request(path, { headers: AUTH });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/json');
  const sha = manifest.files.find((f) => f.name === 'metrics.json')!.sha256;
  assert.equal(res.headers.get('etag'), `"${sha}"`);
  assert.equal(await res.text(), METRICS);
  assert.equal((await app.request(path, { headers: { ...AUTH, 'if-none-match': `"${sha}"` } })).status, 304);
  const p = await get<Problem>('/adapters/sst2/versions/20250101T000000000Z-00000000000000ff/metrics', 404);
  assert.deepEqual(
    p['invalid-params'].map((i) => i.name),
    ['version'],
  );
  await get<Problem>(`/adapters/nope/versions/${manifest.version}/metrics`, 404);
});

test('the routes are in the OpenAPI document, events typed by type', async () => {
  const doc = await get<{ paths: Record<string, { get?: unknown }>; components: { schemas: Record<string, { oneOf?: unknown[] }> } }>(
    '/openapi.json',
  );
  for (const path of ['/finetune/{jobId}/events', '/finetune/{jobId}/checkpoints', '/adapters/{task}/versions/{version}/metrics'])
    assert.ok(doc.paths[path]?.get, path);
  assert.ok((doc.components.schemas.FinetuneEvent.oneOf?.length ?? 0) >= 15);
});

test('where the server holds connections, ?stream=true sends the events as Server-Sent Events until the job ends', async () => {
  const streaming = eventsApp({ eventStream: true });
  const jobId = await createJob();
  const res = await streaming.request(`/finetune/${jobId}/events?stream=true`, { headers: AUTH });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const read = async (until: RegExp) => {
    while (!until.test(text)) {
      const { value, done } = await reader.read();
      if (done) return;
      text += value;
    }
  };
  await read(/"type":"queued"/);
  // Written after the stream opened: it arrives on the next poll, then the end closes the stream.
  await registry.jobs.appendEvents(jobId, [metricsEvent(1), newJobEvent('failed', 'the job failed: boom', { reason: 'boom' })]);
  await read(/(?!)/); // never matches: to the end of the stream
  const events = text
    .split('\n\n')
    .filter((block) => block.includes('data: '))
    .map((block) => ({
      id: /^id: (.*)$/m.exec(block)?.[1],
      event: JSON.parse(/^data: (.*)$/m.exec(block)![1]) as JobEventRecord,
    }));
  assert.deepEqual(
    events.map((e) => e.event.type),
    ['created', 'dataset-validated', 'queued', 'metrics', 'failed'],
  );
  for (const e of events) assert.equal(e.id, e.event.id);
  // A reconnect with Last-Event-ID resumes after it.
  const again = await streaming.request(`/finetune/${jobId}/events`, {
    headers: { ...AUTH, accept: 'text/event-stream', 'last-event-id': events[3].id! },
  });
  const tail = await again.text();
  assert.equal((tail.match(/^data: /gm) ?? []).length, 1);
  assert.match(tail, /"type":"failed"/);
});

test("a failure's reason names the store's objects by s3:// URI, never the server's directory", async () => {
  const jobId = await createJob();
  const root = registry.uri.replace(/^file:\/\//, '');
  const reason = `${root}/datasets/0123456789abcdef/train.jsonl:3: missing field "label"`;
  await registry.jobs.appendEvents(jobId, [newJobEvent('failed', `the job failed: ${reason}`, { reason })]);
  const page = await get<Page<JobEventRecord>>(`/finetune/${jobId}/events`);
  const failed = page.data.find((e) => e.type === 'failed');
  assert.ok(failed?.type === 'failed');
  assert.equal(failed.data.reason, `s3://registry/datasets/0123456789abcdef/train.jsonl:3: missing field "label"`);
  assert.ok(!JSON.stringify(page).includes(root), 'no server path anywhere in the page');
});
