/**
 * The HTTP app end to end against a real S3-compatible server on loopback and a recording launcher:
 * every route, the validation and policy refusals (as problem+json naming the field), auth,
 * idempotency, and downloads with ETag / 304.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { type AppDeps, createApp } from '../../functions/app.ts';
import type { JobLauncher, LaunchedJob, LauncherView } from '../../functions/jobs/launcher.ts';
import { canonicalJson, sha256Hex } from '../../functions/routes/idempotency.ts';
import { queuedStatus } from '../../shared/job.ts';
import type { AdapterManifest } from '../../shared/manifest.ts';
import { Registry } from '../../shared/registry/index.ts';
import { type S3TestServer, startS3Server } from '../support/s3-server.ts';

const KEY = 'test-key-0123456789';
const AUTH = { authorization: `Bearer ${KEY}` };

class RecordingLauncher implements JobLauncher {
  submitted: { jobId: string; task: string; points?: number }[] = [];
  cancelled: LaunchedJob[] = [];
  views = new Map<string, LauncherView>();
  failSubmit = false;
  async submit(job: { jobId: string; task: string; points?: number }): Promise<LaunchedJob> {
    if (this.failSubmit) throw new Error('queue is gone');
    this.submitted.push(job);
    return { jobId: job.jobId, externalId: `ext-${job.jobId}` };
  }
  async cancel(job: LaunchedJob): Promise<void> {
    this.cancelled.push(job);
  }
  async describe(job: LaunchedJob): Promise<LauncherView> {
    return this.views.get(job.jobId) ?? { state: 'unknown' };
  }
}

let s3: S3TestServer;
let registry: Registry;
let launcher: RecordingLauncher;
let app: OpenAPIHono;
let manifest: AdapterManifest;
let older: AdapterManifest;
const logs: Record<string, unknown>[] = [];
const adapterBytes = Buffer.from('not really safetensors, but bytes are bytes \x00\x01\x02');

function deps(over: Partial<AppDeps> = {}): AppDeps {
  return {
    registry,
    launcher,
    apiKeys: ['other-key', KEY],
    allowedDatasetBuckets: ['datasets'],
    defaultBaseModel: 'tiny',
    downloads: 'stream',
    log: (l) => logs.push(l),
    ...over,
  };
}

before(async () => {
  s3 = await startS3Server();
  await s3.createBucket('registry');
  await s3.createBucket('datasets');
  await s3.createBucket('secrets');
  registry = Registry.fromUri('s3://registry', s3.client);
  await s3.putObject('registry', 'models/tiny/config.json', '{}');
  await s3.putObject('registry', 'models/tiny/model.safetensors', 'x');
  await s3.putObject('datasets', 'sst2/train.jsonl', '{"text":"a","label":"pos"}\n');
  const dir = mkdtempSync(join(tmpdir(), 'app-test-'));
  writeFileSync(join(dir, 'adapter.safetensors'), adapterBytes);
  writeFileSync(join(dir, 'adapter_config.json'), '{"bottleneck":8}');
  writeFileSync(join(dir, 'metrics.json'), '{}');
  const meta = {
    task: 'sst2',
    jobId: null,
    baseModel: { name: 'tiny', weightsSha256: 'ab'.repeat(32) },
    mode: 'adapter' as const,
    labels: ['neg', 'pos'],
    parameters: { trainable: 10, total: 100 },
    metrics: null,
  };
  older = await registry.adapters.publish(dir, meta, '20250101T000000000Z-0000000000000001');
  manifest = await registry.adapters.publish(dir, meta, '20250102T000000000Z-0000000000000002');
  launcher = new RecordingLauncher();
  app = createApp(deps());
});

after(async () => {
  await s3?.stop();
});

async function call(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const headers = new Headers({ ...AUTH, ...(init.headers as Record<string, string> | undefined) });
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers.set('content-type', 'application/json');
  }
  return app.request(path, { ...init, headers, body });
}

interface ProblemJson {
  type: string;
  title: string;
  status: number;
  detail: string;
  'invalid-params'?: { name: string; reason: string }[];
}

async function problem(res: Response, status: number): Promise<ProblemJson> {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${await res.clone().text()}`);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const body = (await res.json()) as ProblemJson;
  assert.equal(body.status, status);
  assert.match(body.type, /^urn:adapter-store:problem:/);
  return body;
}

function fieldNames(p: ProblemJson): string[] {
  return (p['invalid-params'] ?? []).map((x) => x.name);
}

const good = {
  task: 'sst2',
  datasetUri: 's3://datasets/sst2/train.jsonl',
  hyperparameters: { epochs: 2, lr: 1e-3, bottleneck: 16, seeds: [1, 2] },
};

describe('POST /finetune', () => {
  test('accepts a valid request: 202, Location, spec + queued status + launch handle written, launcher called', async () => {
    const before = launcher.submitted.length;
    const res = await call('/finetune', { method: 'POST', json: good });
    assert.equal(res.status, 202);
    const job = (await res.json()) as { jobId: string; status: string; baseModel: string; hyperparameters: unknown };
    assert.match(job.jobId, /^ft-[a-z0-9]{21}$/);
    assert.match(job.jobId, /^[a-z0-9][a-z0-9_-]{0,63}$/);
    assert.equal(job.status, 'queued');
    assert.equal(job.baseModel, 'tiny');
    assert.deepEqual(job.hyperparameters, good.hyperparameters);
    assert.equal(res.headers.get('location'), `/finetune/${job.jobId}`);
    assert.equal(launcher.submitted.length, before + 1);
    assert.deepEqual(launcher.submitted.at(-1), { jobId: job.jobId, task: 'sst2' });
    const spec = await registry.jobs.spec(job.jobId);
    assert.equal(spec.datasetUri, good.datasetUri);
    assert.equal((await registry.jobs.status(job.jobId))?.state, 'queued');
    const launch = await s3.client.send(
      new (await import('@aws-sdk/client-s3')).GetObjectCommand({ Bucket: 'registry', Key: `jobs/${job.jobId}/launch.json` }),
    );
    assert.deepEqual(JSON.parse(await launch.Body!.transformToString()), { jobId: job.jobId, externalId: `ext-${job.jobId}` });
  });

  test('a sweep: 202 with every point queued, the grid recorded as asked, the launcher told how many points', async () => {
    const sweep = { ...good, hyperparameters: { lr: [1e-3, 3e-4], bottleneck: [8, 64, 256], validationSplit: 0.1, seeds: [1] } };
    const res = await call('/finetune', { method: 'POST', json: sweep });
    assert.equal(res.status, 202, await res.clone().text());
    const job = (await res.json()) as {
      jobId: string;
      hyperparameters: unknown;
      sweep: { metric: string; bestPoint: number | null; points: { point: number; settings: object; status: string }[] };
    };
    assert.deepEqual(job.hyperparameters, sweep.hyperparameters);
    assert.equal(job.sweep.metric, 'accuracy');
    assert.equal(job.sweep.bestPoint, null);
    // Bottleneck is the outer axis (shared/sweep.ts's order), lr the inner one.
    assert.deepEqual(
      job.sweep.points.map((p) => [p.point, p.settings, p.status]),
      [8, 64, 256].flatMap((bottleneck, i) => [1e-3, 3e-4].map((lr, j) => [2 * i + j, { bottleneck, lr }, 'queued'])),
    );
    assert.deepEqual(launcher.submitted.at(-1), { jobId: job.jobId, task: 'sst2', points: 6 });
    assert.deepEqual((await registry.jobs.spec(job.jobId)).hyperparameters, sweep.hyperparameters);
  });

  test("a sweep's GET shows each point's progress and sums them; a cancel records the sweep's end and stops its launch", async () => {
    const res = await call('/finetune', {
      method: 'POST',
      json: { ...good, hyperparameters: { lr: [1e-3, 3e-4], validationSplit: 0.1, seeds: [1] } },
    });
    const { jobId } = (await res.json()) as { jobId: string };
    const at = new Date().toISOString();
    const point = (i: number, patch: object) =>
      registry.jobs.putPointStatus({
        ...queuedStatus(jobId, at),
        format: 'adapter-store.point-status/v1',
        point: i,
        settings: { lr: i === 0 ? 1e-3 : 3e-4 },
        ...patch,
      });
    const metrics = { loss: 0.5, accuracy: 0.75, macroF1: 0.7, mcc: 0.4, examples: 40 };
    await point(0, { state: 'succeeded', step: 10, totalSteps: 10, score: 0.75, seeds: [{ seed: 1, score: 0.75 }], best: metrics });
    await point(1, { state: 'running', step: 5, totalSteps: 20, validation: { ...metrics, accuracy: 0.6 } });
    type View = {
      status: string;
      progress: { step: number; totalSteps: number; fraction: number };
      sweep: { points: { status: string; score: number | null; metrics: { accuracy: number } | null; progress: { fraction: number } }[] };
    };
    const view = (await (await call(`/finetune/${jobId}`)).json()) as View;
    assert.equal(view.status, 'running', 'a point has started: the sweep runs');
    assert.deepEqual(view.progress, { step: 15, totalSteps: 30, epoch: 0, fraction: (1 + 0.25) / 2 });
    assert.deepEqual(
      view.sweep.points.map((p) => [p.status, p.score, p.metrics?.accuracy, p.progress.fraction]),
      [
        ['succeeded', 0.75, 0.75, 1],
        ['running', null, 0.6, 0.25],
      ],
    );
    const cancelled = (await (await call(`/finetune/${jobId}/cancel`, { method: 'POST' })).json()) as View;
    assert.equal(cancelled.status, 'cancelled');
    assert.deepEqual(
      cancelled.sweep.points.map((p) => p.status),
      ['succeeded', 'cancelled'],
    );
    assert.equal(launcher.cancelled.at(-1)?.jobId, jobId);
    const { events } = await registry.jobs.listEvents(jobId);
    assert.deepEqual(
      events.slice(-2).map((e) => e.type),
      ['cancel-requested', 'cancelled'],
    );
  });

  test('job ids sort by creation time', async () => {
    const times = [new Date('2025-01-01T00:00:00Z'), new Date('2025-06-01T00:00:00Z'), new Date('2031-01-01T00:00:00Z')];
    const ids: string[] = [];
    for (const t of times) {
      const a = createApp(deps({ now: () => t }));
      const res = await a.request('/finetune', {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify(good),
      });
      ids.push(((await res.json()) as { jobId: string }).jobId);
    }
    assert.deepEqual([...ids].sort(), ids);
  });

  const refusals: [string, unknown, number, string][] = [
    ['a non-slug task "../x"', { ...good, task: '../x' }, 400, 'task'],
    ['an upper-case task', { ...good, task: 'SST2' }, 400, 'task'],
    ['an https:// dataset URL', { ...good, datasetUri: 'https://example.com/train.jsonl' }, 400, 'datasetUri'],
    ['a dataset in a bucket not allowed', { ...good, datasetUri: 's3://secrets/keys.jsonl' }, 422, 'datasetUri'],
    ['a file:// dataset (SSRF to local files)', { ...good, datasetUri: 'file:///etc/passwd' }, 400, 'datasetUri'],
    ['a local dataset path', { ...good, datasetUri: '/etc/passwd' }, 400, 'datasetUri'],
    ['an http:// validation URL (SSRF)', { ...good, validationUri: 'http://169.254.169.254/latest/meta-data/' }, 400, 'validationUri'],
    ['a ".." segment in the dataset key', { ...good, datasetUri: 's3://datasets/x/../sst2/train.jsonl' }, 400, 'datasetUri'],
    ['an empty segment in the dataset key', { ...good, datasetUri: 's3://datasets/sst2//train.jsonl' }, 400, 'datasetUri'],
    ['a "." segment in the validation key', { ...good, validationUri: 's3://datasets/./sst2/train.jsonl' }, 400, 'validationUri'],
    ['a validation set in a bucket not allowed', { ...good, validationUri: 's3://registry/jobs/x.jsonl' }, 422, 'validationUri'],
    ['a dataset that does not exist', { ...good, datasetUri: 's3://datasets/sst2/missing.jsonl' }, 422, 'datasetUri'],
    ['a validation set that does not exist', { ...good, validationUri: 's3://datasets/sst2/missing.jsonl' }, 422, 'validationUri'],
    ['an unknown base model', { ...good, baseModel: 'nope' }, 422, 'baseModel'],
    ['a base model with path tricks', { ...good, baseModel: '../tiny' }, 400, 'baseModel'],
    ['epochs 0', { ...good, hyperparameters: { epochs: 0 } }, 400, 'hyperparameters.epochs'],
    ['epochs 101', { ...good, hyperparameters: { epochs: 101 } }, 400, 'hyperparameters.epochs'],
    ['fractional epochs', { ...good, hyperparameters: { epochs: 1.5 } }, 400, 'hyperparameters.epochs'],
    ['lr 0', { ...good, hyperparameters: { lr: 0 } }, 400, 'hyperparameters.lr'],
    ['lr 2', { ...good, hyperparameters: { lr: 2 } }, 400, 'hyperparameters.lr'],
    ['bottleneck 4097', { ...good, hyperparameters: { bottleneck: 4097 } }, 400, 'hyperparameters.bottleneck'],
    ['batchSize 0', { ...good, hyperparameters: { batchSize: 0 } }, 400, 'hyperparameters.batchSize'],
    ['maxSeqLen 1024', { ...good, hyperparameters: { maxSeqLen: 1024 } }, 400, 'hyperparameters.maxSeqLen'],
    ['11 seeds', { ...good, hyperparameters: { seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] } }, 400, 'hyperparameters.seeds'],
    ['repeated seeds', { ...good, hyperparameters: { seeds: [1, 1] } }, 400, 'hyperparameters.seeds'],
    ['an unknown mode', { ...good, hyperparameters: { mode: 'lora' } }, 400, 'hyperparameters.mode'],
    ['an unknown nonlinearity', { ...good, hyperparameters: { nonlinearity: 'sigmoid' } }, 400, 'hyperparameters.nonlinearity'],
    ['initStd 0', { ...good, hyperparameters: { initStd: 0 } }, 400, 'hyperparameters.initStd'],
    ['adapterLayers "0-x"', { ...good, hyperparameters: { adapterLayers: '0-x' } }, 400, 'hyperparameters.adapterLayers'],
    ['adapterLayers "11-0"', { ...good, hyperparameters: { adapterLayers: '11-0' } }, 400, 'hyperparameters.adapterLayers'],
    ['dropout 1', { ...good, hyperparameters: { dropout: 1 } }, 400, 'hyperparameters.dropout'],
    ['warmupRatio 1', { ...good, hyperparameters: { warmupRatio: 1 } }, 400, 'hyperparameters.warmupRatio'],
    ['weightDecay 1.5', { ...good, hyperparameters: { weightDecay: 1.5 } }, 400, 'hyperparameters.weightDecay'],
    ['validationSplit 0', { ...good, hyperparameters: { validationSplit: 0 } }, 400, 'hyperparameters.validationSplit'],
    ['an unknown metric', { ...good, hyperparameters: { metric: 'bleu' } }, 400, 'hyperparameters.metric'],
    ['one label', { ...good, hyperparameters: { labels: ['a'] } }, 400, 'hyperparameters.labels'],
    [
      '1,001 labels',
      { ...good, hyperparameters: { labels: Array.from({ length: 1001 }, (_, i) => `c${i}`) } },
      400,
      'hyperparameters.labels',
    ],
    ['a label of 257 characters', { ...good, hyperparameters: { labels: ['a', 'b'.repeat(257)] } }, 400, 'hyperparameters.labels.1'],
    ['an unknown hyperparameter', { ...good, hyperparameters: { epoch: 3 } }, 400, 'hyperparameters.epoch'],
    ['an unknown top-level field', { ...good, model: 'gpt' }, 400, 'model'],
    ['a missing task', { datasetUri: good.datasetUri }, 400, 'task'],
    ['a body that is not an object', [1, 2], 400, ''],
    // Sweeps: lists of values for the sweep keys, bounded, and only with validation data to choose by.
    [
      'a sweep of 36 points (over 32)',
      { ...good, hyperparameters: { lr: [1e-4, 3e-4, 1e-3, 3e-3], bottleneck: [8, 64, 256], epochs: [1, 2, 3], validationSplit: 0.1 } },
      400,
      'hyperparameters',
    ],
    ['a swept value out of its bounds', { ...good, hyperparameters: { lr: [1e-3, 2], validationSplit: 0.1 } }, 400, 'hyperparameters.lr.1'],
    ['a list of one value', { ...good, hyperparameters: { lr: [1e-3], validationSplit: 0.1 } }, 400, 'hyperparameters.lr'],
    [
      'a list of 17 values',
      { ...good, hyperparameters: { bottleneck: Array.from({ length: 17 }, (_, i) => i + 1), validationSplit: 0.1 } },
      400,
      'hyperparameters.bottleneck',
    ],
    [
      'a repeated swept value',
      { ...good, hyperparameters: { bottleneck: [8, 8], validationSplit: 0.1 } },
      400,
      'hyperparameters.bottleneck',
    ],
    [
      'a list for a key no sweep varies',
      { ...good, hyperparameters: { metric: ['accuracy', 'f1'], validationSplit: 0.1 } },
      400,
      'hyperparameters.metric',
    ],
    ['a sweep with no validation data to choose by', { ...good, hyperparameters: { lr: [1e-3, 3e-4] } }, 400, 'hyperparameters'],
  ];
  for (const [what, body, status, field] of refusals) {
    test(`refuses ${what} (${status}, names "${field || 'the body'}") and writes or launches nothing`, async () => {
      const submitted = launcher.submitted.length;
      const jobsBefore = (await registry.list('jobs/')).keys.length;
      const p = await problem(await call('/finetune', { method: 'POST', json: body }), status);
      if (field) assert.ok(fieldNames(p).includes(field), `invalid-params ${JSON.stringify(p['invalid-params'])} should name ${field}`);
      else assert.ok(fieldNames(p).length > 0);
      assert.equal(launcher.submitted.length, submitted);
      assert.equal((await registry.list('jobs/')).keys.length, jobsBefore);
    });
  }

  test('an unknown hyperparameter or field is answered with the nearest name and the list', async () => {
    const reasonFor = async (body: unknown, field: string): Promise<string> => {
      const p = await problem(await call('/finetune', { method: 'POST', json: body }), 400);
      const param = p['invalid-params']?.find((x) => x.name === field);
      assert.ok(param, `invalid-params ${JSON.stringify(p['invalid-params'])} should name ${field}`);
      return param.reason;
    };
    const lr = await reasonFor({ ...good, hyperparameters: { learning_rate: 1e-3 } }, 'hyperparameters.learning_rate');
    assert.match(lr, /^unknown hyperparameter "learning_rate" \(did you mean "lr"\?\); the hyperparameters are: mode, bottleneck, /);
    assert.match(lr, /, lr, /);
    assert.match(lr, /, textColumn, textPairColumn, labelColumn$/);
    assert.match(
      await reasonFor({ ...good, hyperparameters: { batch_size: 8 } }, 'hyperparameters.batch_size'),
      /did you mean "batchSize"/,
    );
    assert.match(await reasonFor({ ...good, hyperparameters: { epoch: 3 } }, 'hyperparameters.epoch'), /did you mean "epochs"/);
    assert.match(await reasonFor({ ...good, hyperparameters: { bottlenek: 3 } }, 'hyperparameters.bottlenek'), /did you mean "bottleneck"/);
    assert.match(
      await reasonFor({ ...good, hyperparameters: { text_column: 'x' } }, 'hyperparameters.text_column'),
      /did you mean "textColumn"/,
    );
    // Nothing close: no guess, still the list.
    const far = await reasonFor({ ...good, hyperparameters: { zzz: 1 } }, 'hyperparameters.zzz');
    assert.match(far, /^unknown hyperparameter "zzz"; the hyperparameters are: /);
    // Top-level fields too.
    assert.match(
      await reasonFor({ ...good, dataset_uri: good.datasetUri }, 'dataset_uri'),
      /^unknown field "dataset_uri" \(did you mean "datasetUri"\?\); the fields are: task, datasetUri, validationUri, baseModel, hyperparameters$/,
    );
  });

  test('an unknown base model is answered with the bases the store has', async () => {
    const p = await problem(await call('/finetune', { method: 'POST', json: { ...good, baseModel: 'tinny' } }), 422);
    assert.match(p.detail, /^base model "tinny" is not in the store; did you mean "tiny"\? the store's base models: tiny$/);
    assert.match(p['invalid-params']?.[0].reason ?? '', /the store's base models: tiny/);
    // An empty store says how to add one.
    await s3.createBucket('empty-registry');
    const a = createApp(deps({ registry: Registry.fromUri('s3://empty-registry', s3.client) }));
    const res = await a.request('/finetune', {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify(good),
    });
    const q = await problem(res, 422);
    assert.match(q.detail, /no base models yet \(add one: trainer upload-base\)/);
  });

  test('the CSV/TSV column options go into the job spec (and /openapi.json describes them)', async () => {
    const columns = { textColumn: 'sentence', textPairColumn: 'hypothesis', labelColumn: 'sentiment' };
    const res = await call('/finetune', { method: 'POST', json: { ...good, task: 'columns', hyperparameters: columns } });
    assert.equal(res.status, 202, await res.clone().text());
    const { jobId } = (await res.json()) as { jobId: string };
    assert.deepEqual((await registry.jobs.spec(jobId)).hyperparameters, columns);
    await problem(await call('/finetune', { method: 'POST', json: { ...good, hyperparameters: { labelColumn: '' } } }), 400);
    const doc = (await (await call('/openapi.json')).json()) as {
      components: { schemas: { Hyperparameters: { properties: Record<string, { description?: string }> } } };
    };
    const described = doc.components.schemas.Hyperparameters.properties;
    assert.match(described.textColumn.description ?? '', /CSV\/TSV: the header of the column holding the text.*--text-column/);
    assert.match(described.labelColumn.description ?? '', /--label-column/);
  });

  test('refuses malformed JSON with 400 problem', async () => {
    const p = await problem(
      await call('/finetune', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task": ' }),
      400,
    );
    assert.ok(fieldNames(p).length > 0);
  });

  test('refuses a body that is not JSON with 415', async () => {
    await problem(await call('/finetune', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(good) }), 415);
    await problem(await call('/finetune', { method: 'POST', body: JSON.stringify(good) }), 415);
  });

  test('refuses a body over the limit with 413', async () => {
    const small = createApp(deps({ maxBodyBytes: 1024 }));
    const body = JSON.stringify({ ...good, hyperparameters: { labels: Array.from({ length: 200 }, (_, i) => `label-${i}`) } });
    const res = await small.request('/finetune', {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      body,
    });
    await problem(res, 413);
    const chunked = new ReadableStream<Uint8Array>({
      start(ctrl) {
        ctrl.enqueue(new TextEncoder().encode(body));
        ctrl.close();
      },
    });
    const res2 = await small.request('/finetune', {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    await problem(res2, 413);
  });

  test('a launcher failure answers 502 and leaves the job recorded as failed', async () => {
    launcher.failSubmit = true;
    try {
      const p = await problem(await call('/finetune', { method: 'POST', json: { ...good, task: 'launch-fails' } }), 502);
      const jobId = /job (ft-[a-z0-9]+)/.exec(p.detail)?.[1];
      assert.ok(jobId);
      assert.equal((await registry.jobs.status(jobId))?.state, 'failed');
    } finally {
      launcher.failSubmit = false;
    }
  });
});

describe('Idempotency-Key', () => {
  test('a retried request returns the same job and launches once', async () => {
    const headers = { 'idempotency-key': 'retry-me-1' };
    const submitted = launcher.submitted.length;
    const a = await call('/finetune', { method: 'POST', headers, json: good });
    const b = await call('/finetune', {
      method: 'POST',
      headers,
      json: { hyperparameters: good.hyperparameters, datasetUri: good.datasetUri, task: good.task },
    });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    const ja = (await a.json()) as { jobId: string };
    const jb = (await b.json()) as { jobId: string };
    assert.equal(jb.jobId, ja.jobId);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.equal(b.headers.get('location'), `/finetune/${ja.jobId}`);
    assert.equal(launcher.submitted.length, submitted + 1);
  });

  test('the same key with a different body is a 409 conflict', async () => {
    const headers = { 'idempotency-key': 'retry-me-2' };
    assert.equal((await call('/finetune', { method: 'POST', headers, json: good })).status, 202);
    const p = await problem(await call('/finetune', { method: 'POST', headers, json: { ...good, task: 'other' } }), 409);
    assert.ok(fieldNames(p).includes('Idempotency-Key'));
  });

  test('concurrent requests with one key create one job', async () => {
    const headers = { 'idempotency-key': 'race-1' };
    const submitted = launcher.submitted.length;
    const results = await Promise.all([0, 1, 2].map(() => call('/finetune', { method: 'POST', headers, json: good })));
    const ids = new Set<string>();
    for (const r of results) {
      if (r.status === 202) ids.add(((await r.json()) as { jobId: string }).jobId);
      else await problem(r, 409); // the first is still in flight: retry later
    }
    assert.equal(ids.size, 1);
    assert.equal(launcher.submitted.length, submitted + 1);
  });
});

describe('GET /finetune', () => {
  async function create(task: string): Promise<string> {
    const res = await call('/finetune', { method: 'POST', json: { ...good, task } });
    assert.equal(res.status, 202);
    return ((await res.json()) as { jobId: string }).jobId;
  }

  test('GET /finetune/:jobId reports status, progress, metrics and the adapter version when done', async () => {
    const jobId = await create('progress');
    const status = await registry.jobs.status(jobId);
    assert.ok(status);
    const validation = { loss: 0.5, accuracy: 0.8, macroF1: 0.79, mcc: 0.6, examples: 10 };
    await registry.jobs.putStatus({
      ...status,
      state: 'succeeded',
      step: 40,
      totalSteps: 40,
      epoch: 2,
      loss: 0.3,
      validation,
      adapterVersion: manifest.version,
      updatedAt: new Date().toISOString(),
    });
    const res = await call(`/finetune/${jobId}`);
    assert.equal(res.status, 200);
    const job = (await res.json()) as {
      status: string;
      progress: { fraction: number; step: number };
      metrics: unknown;
      adapterVersion: string;
      loss: number;
    };
    assert.equal(job.status, 'succeeded');
    assert.equal(job.progress.step, 40);
    assert.equal(job.progress.fraction, 1);
    assert.deepEqual(job.metrics, validation);
    assert.equal(job.adapterVersion, manifest.version);
    assert.equal(job.loss, 0.3);
  });

  test("merges the launcher's view: a queued job whose container failed reports failed with the reason", async () => {
    const jobId = await create('dies');
    launcher.views.set(jobId, { state: 'failed', reason: 'Essential container in task exited (137)' });
    const job = (await (await call(`/finetune/${jobId}`)).json()) as { status: string; error: { message: string } };
    assert.equal(job.status, 'failed');
    assert.equal(job.error.message, 'Essential container in task exited (137)');
    launcher.views.set(jobId, { state: 'running' });
    assert.equal(((await (await call(`/finetune/${jobId}`)).json()) as { status: string }).status, 'running');
  });

  test('an unknown job is 404, a non-slug job id 400', async () => {
    await problem(await call('/finetune/ft-doesnotexist'), 404);
    const p = await problem(await call('/finetune/Bad.Id'), 400);
    assert.ok(fieldNames(p).includes('jobId'));
  });

  test('lists newest first, filters by task, paginates with after', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await create('listing'));
    const page1 = (await (await call('/finetune?task=listing&limit=2')).json()) as {
      object: string;
      data: { jobId: string; task: string }[];
      hasMore: boolean;
      nextCursor: string;
    };
    assert.equal(page1.object, 'list');
    assert.deepEqual(
      page1.data.map((j) => j.jobId),
      [ids[2], ids[1]],
    );
    assert.equal(page1.hasMore, true);
    const page2 = (await (await call(`/finetune?task=listing&limit=2&after=${page1.nextCursor}`)).json()) as {
      data: { jobId: string }[];
      hasMore: boolean;
      nextCursor: string | null;
    };
    assert.deepEqual(
      page2.data.map((j) => j.jobId),
      [ids[0]],
    );
    assert.equal(page2.hasMore, false);
    assert.equal(page2.nextCursor, null);
    const all = (await (await call('/finetune?limit=100')).json()) as { data: { jobId: string }[] };
    const sorted = all.data.map((j) => j.jobId);
    assert.deepEqual(sorted, [...sorted].sort().reverse());
    assert.ok(sorted.length > 3);
  });

  test('bad list parameters are 400 naming the field', async () => {
    assert.ok(fieldNames(await problem(await call('/finetune?limit=0'), 400)).includes('limit'));
    assert.ok(fieldNames(await problem(await call('/finetune?task=../x'), 400)).includes('task'));
    assert.ok(fieldNames(await problem(await call('/finetune?after=ft-nosuchjob'), 400)).includes('after'));
  });

  test('POST /finetune/:jobId/cancel cancels through the launcher; a finished job cannot be cancelled', async () => {
    const jobId = await create('cancel-me');
    const res = await call(`/finetune/${jobId}/cancel`, { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'cancelled');
    assert.deepEqual(launcher.cancelled.at(-1), { jobId, externalId: `ext-${jobId}` });
    assert.ok(await registry.jobs.cancelRequest(jobId), 'the cancel record is written');
    assert.equal((await registry.jobs.status(jobId))?.state, 'queued', "status.json stays the trainer's");
    assert.equal((await call(`/finetune/${jobId}/cancel`, { method: 'POST' })).status, 200);
    // A stopping trainer's last report lands after the cancel: the job still reads cancelled.
    const late = (await registry.jobs.status(jobId))!;
    await registry.jobs.putStatus({ ...late, state: 'failed', error: { message: 'interrupted by SIGTERM' } });
    const after = (await (await call(`/finetune/${jobId}`)).json()) as { status: string; error: unknown };
    assert.deepEqual([after.status, after.error], ['cancelled', null]);
    const listed = (await (await call('/finetune?task=cancel-me')).json()) as { data: { jobId: string; status: string }[] };
    assert.equal(listed.data.find((j) => j.jobId === jobId)?.status, 'cancelled');

    // The trainer finishes while the cancel is under way: the published success stands (409), never "cancelled".
    const racing = await create('cancel-race');
    const original = launcher.cancel.bind(launcher);
    launcher.cancel = async (job) => {
      const st = (await registry.jobs.status(job.jobId))!;
      await registry.jobs.putStatus({ ...st, state: 'succeeded', adapterVersion: manifest.version });
    };
    try {
      await problem(await call(`/finetune/${racing}/cancel`, { method: 'POST' }), 409);
    } finally {
      launcher.cancel = original;
    }
    assert.equal(((await (await call(`/finetune/${racing}`)).json()) as { status: string }).status, 'succeeded');

    const done = await create('cancel-done');
    const st = await registry.jobs.status(done);
    assert.ok(st);
    await registry.jobs.putStatus({ ...st, state: 'succeeded' });
    await problem(await call(`/finetune/${done}/cancel`, { method: 'POST' }), 409);
    await problem(await call('/finetune/ft-nope/cancel', { method: 'POST' }), 404);
  });
});

describe('adapters', () => {
  test('GET /adapters lists tasks with their newest version', async () => {
    const res = await call('/adapters');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { data: { task: string; latestVersion: string; labels: string[] }[] };
    assert.deepEqual(
      body.data.map((d) => [d.task, d.latestVersion]),
      [['sst2', manifest.version]],
    );
    assert.deepEqual(body.data[0].labels, ['neg', 'pos']);
  });

  test('GET /adapters pages (limit, after); a corrupt manifest is logged and passed over, never a 500', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'app-pages-'));
    for (const f of ['adapter.safetensors', 'adapter_config.json', 'metrics.json']) writeFileSync(join(dir, f), '{}');
    const meta = {
      jobId: null,
      baseModel: { name: 'tiny', weightsSha256: 'ab'.repeat(32) },
      mode: 'adapter' as const,
      labels: ['a', 'b'],
      parameters: { trainable: 1, total: 2 },
      metrics: null,
    };
    const kept = await registry.adapters.publish(dir, { ...meta, task: 'zz-fallback' }, '20250101T000000000Z-00000000000000a1');
    await registry.adapters.publish(dir, { ...meta, task: 'zz-fallback' }, '20250102T000000000Z-00000000000000a2');
    await s3.putObject('registry', 'adapters/zz-fallback/20250102T000000000Z-00000000000000a2/manifest.json', '{"truncated": ');
    await registry.adapters.publish(dir, { ...meta, task: 'zz-gone' }, '20250101T000000000Z-00000000000000b1');
    await s3.putObject(
      'registry',
      'adapters/zz-gone/20250101T000000000Z-00000000000000b1/manifest.json',
      JSON.stringify({ ...kept, task: 'zz-gone' }),
    );
    const first = (await (await call('/adapters?limit=1')).json()) as { data: { task: string }[]; hasMore: boolean; nextCursor: string };
    assert.deepEqual([first.data.map((d) => d.task), first.hasMore, first.nextCursor], [['sst2'], true, 'sst2']);
    const rest = await call('/adapters?limit=10&after=sst2');
    assert.equal(rest.status, 200);
    const body = (await rest.json()) as { data: { task: string; latestVersion: string }[]; hasMore: boolean };
    assert.deepEqual(
      body.data.map((d) => [d.task, d.latestVersion]),
      [['zz-fallback', kept.version]],
      'the older sound version; zz-gone has none',
    );
    assert.equal(body.hasMore, false);
    assert.ok(logs.some((l) => l.msg === 'corrupt manifest skipped' && l.task === 'zz-gone'));
    await problem(await call('/adapters?limit=0'), 400);
  });

  test('GET /adapters/:task gives the newest manifest and every version, newest first', async () => {
    const body = (await (await call('/adapters/sst2')).json()) as { latestVersion: string; versions: string[]; manifest: AdapterManifest };
    assert.equal(body.latestVersion, manifest.version);
    assert.deepEqual(body.versions, [manifest.version, older.version]);
    assert.deepEqual(body.manifest, manifest);
    await problem(await call('/adapters/unknown-task'), 404);
  });

  test('GET /adapters/:task/versions/:version gives that manifest', async () => {
    assert.deepEqual(await (await call(`/adapters/sst2/versions/${older.version}`)).json(), older);
    await problem(await call('/adapters/sst2/versions/20990101T000000000Z-0000000000000009'), 404);
    assert.ok(fieldNames(await problem(await call('/adapters/sst2/versions/latest-ish'), 400)).includes('version'));
  });

  test('download streams the file with Content-Length and ETag = sha256, and answers 304 on If-None-Match', async () => {
    const sha = createHash('sha256').update(adapterBytes).digest('hex');
    const res = await call('/adapters/sst2/download');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('etag'), `"${sha}"`);
    assert.equal(res.headers.get('content-length'), String(adapterBytes.length));
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('x-adapter-version'), manifest.version);
    assert.equal(res.headers.get('cache-control'), 'private, no-cache');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), adapterBytes);

    const cached = await call('/adapters/sst2/download', { headers: { 'if-none-match': `"${sha}"` } });
    assert.equal(cached.status, 304);
    assert.equal(cached.headers.get('etag'), `"${sha}"`);
    assert.equal((await cached.arrayBuffer()).byteLength, 0);
    assert.equal((await call('/adapters/sst2/download', { headers: { 'if-none-match': '"other"' } })).status, 200);

    const pinned = await call(`/adapters/sst2/download?version=${older.version}&file=adapter_config.json`);
    assert.equal(pinned.status, 200);
    assert.equal(await pinned.text(), '{"bottleneck":8}');
    assert.equal(
      pinned.headers.get('cache-control'),
      'private, max-age=31536000, immutable',
      'a keyed response is never for shared caches',
    );
    const head = await call('/adapters/sst2/download', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(adapterBytes.length));
    assert.equal(head.headers.get('etag'), `"${sha}"`);
    await problem(await call('/adapters/sst2/download?file=../../secrets'), 400);
    await problem(await call('/adapters/..%2Fx/download'), 400);
    await problem(await call('/adapters/%2E%2E%2Fsecrets'), 400);
    await problem(await call('/adapters/nothing-here/download'), 404);
  });

  test('download redirects to a signed URL when configured so', async () => {
    const signed: string[] = [];
    const a = createApp(
      deps({
        downloads: 'redirect',
        signDownloadUrl: async (key) => {
          signed.push(key);
          return `https://signed.example/${key}?sig=1`;
        },
      }),
    );
    const res = await a.request('/adapters/sst2/download', { headers: AUTH });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), `https://signed.example/adapters/sst2/${manifest.version}/adapter.safetensors?sig=1`);
    assert.deepEqual(signed, [`adapters/sst2/${manifest.version}/adapter.safetensors`]);
  });
});

describe('auth, errors, meta', () => {
  test('/healthz needs no key', async () => {
    const res = await app.request('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  test('every other route needs a valid bearer key', async () => {
    for (const path of ['/finetune', '/adapters', '/adapters/sst2', '/models/tiny/files/config.json', '/no-such-route']) {
      const missing = await problem(await app.request(path), 401);
      assert.match(missing.detail, /Bearer/);
      await problem(await app.request(path, { headers: { authorization: 'Bearer wrong' } }), 401);
      await problem(await app.request(path, { headers: { authorization: `Basic ${KEY}` } }), 401);
    }
    assert.equal((await app.request('/adapters', { headers: { authorization: 'Bearer other-key' } })).status, 200);
    assert.match((await app.request('/adapters')).headers.get('www-authenticate') ?? '', /^Bearer/);
    await problem(
      await app.request('/finetune', {
        method: 'POST',
        headers: { authorization: 'Bearer wrong', 'content-type': 'application/json' },
        body: JSON.stringify(good),
      }),
      401,
    );
  });

  test('the documentation is public (a browser sends no key): /docs is HTML that links /openapi.json, both without a key', async () => {
    const page = await app.request('/docs');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    assert.match(html, /<a href="openapi\.json">/);
    assert.match(html, /POST \/finetune/);
    // Each route's parameters and body fields, with bounds and descriptions, from the same document.
    assert.match(html, /JSON body: <a href="#schema-FinetuneRequest">FinetuneRequest<\/a>/);
    assert.match(html, /<section id="schema-Hyperparameters">/);
    assert.match(html, /<td><code>lr<\/code><\/td><td>number, 0 &#60; x ≤ 1 or list of number, 0 &#60; x ≤ 1<\/td>/);
    assert.match(
      html,
      /<td><code>textColumn<\/code><\/td><td>string, 1-200 characters<\/td><td>CSV\/TSV: the header of the column holding the text/,
    );
    assert.match(html, /<td><code>task<\/code> \(required\)<\/td>/);
    assert.match(html, /<td><code>labelColumn<\/code> \(query\)<\/td>/);
    const doc = await app.request('/openapi.json');
    assert.equal(doc.status, 200);
    const text = await doc.text();
    assert.ok((JSON.parse(text) as { paths: object }).paths);
    // Documentation only: no key, and the routes it describes still need one.
    assert.ok(!text.includes(KEY) && !html.includes(KEY));
    await problem(await app.request('/finetune'), 401);
    // Only these two paths: a look-alike is not public.
    await problem(await app.request('/docs/x'), 401);
    await problem(await app.request('/openapi.json.bak'), 401);
  });

  test('an app without keys refuses everything but /healthz', async () => {
    const closed = createApp(deps({ apiKeys: [] }));
    await problem(await closed.request('/adapters', { headers: { authorization: 'Bearer ' } }), 401);
    assert.equal((await closed.request('/healthz')).status, 200);
  });

  test('unknown routes are 404, wrong methods 405 with Allow', async () => {
    await problem(await call('/nope'), 404);
    await problem(await call('/adapters/sst2/versions'), 404);
    const p = await call('/finetune', { method: 'DELETE' });
    await problem(p, 405);
    assert.match(p.headers.get('allow') ?? '', /GET/);
    assert.match(p.headers.get('allow') ?? '', /POST/);
    const q = await call('/finetune/ft-x/cancel');
    await problem(q, 405);
    assert.equal(q.headers.get('allow'), 'POST');
    await problem(await call('/adapters', { method: 'POST' }), 405);
  });

  test('/openapi.json is generated from the validating schemas, and /docs renders it', async () => {
    const doc = (await (await call('/openapi.json')).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: {
        schemas: Record<
          string,
          {
            properties?: Record<
              string,
              { anyOf?: { type: string; minimum?: number; maximum?: number; maxItems?: number; items?: object }[] }
            >;
          }
        >;
        securitySchemes: Record<string, unknown>;
      };
    };
    assert.equal(doc.openapi, '3.0.3');
    for (const p of [
      '/finetune',
      '/finetune/{jobId}',
      '/finetune/{jobId}/cancel',
      '/adapters',
      '/adapters/{task}',
      '/adapters/{task}/versions/{version}',
      '/adapters/{task}/download',
      '/healthz',
    ]) {
      assert.ok(doc.paths[p], `missing ${p}`);
    }
    // A sweep key: one value, or a list of 2 to 16 such values.
    const [one, list] = doc.components.schemas.Hyperparameters.properties?.epochs?.anyOf ?? [];
    assert.equal(one?.minimum, 1);
    assert.equal(one?.maximum, 100);
    assert.equal(list?.type, 'array');
    assert.equal(list?.maxItems, 16);
    assert.deepEqual(list?.items, { type: 'integer', minimum: 1, maximum: 100 });
    assert.ok(doc.components.securitySchemes.bearer);
    const html = await (await call('/docs')).text();
    assert.match(html, /POST \/finetune/);
    assert.match(html, /openapi\.json/);
  });

  test('writes one structured JSON log line per request, without the key', async () => {
    logs.length = 0;
    await call('/adapters');
    const line = logs.find((l) => l.msg === 'request' && l.path === '/adapters');
    assert.ok(line);
    assert.equal(line.status, 200);
    assert.equal(line.method, 'GET');
    assert.equal(typeof line.durationMs, 'number');
    assert.ok(!JSON.stringify(logs).includes(KEY));
  });
});

// Last in the file: these publish versions under new tasks, which the adapter listings above do not expect.
describe('the job view: list and detail agree, manifests win, stale work is reconciled', () => {
  const meta = {
    baseModel: { name: 'tiny', weightsSha256: 'ab'.repeat(32) },
    mode: 'adapter' as const,
    labels: ['neg', 'pos'],
    parameters: { trainable: 10, total: 100 },
    metrics: null,
  };
  let files: string;
  before(() => {
    files = mkdtempSync(join(tmpdir(), 'app-view-'));
    for (const f of ['adapter.safetensors', 'adapter_config.json', 'metrics.json']) writeFileSync(join(files, f), '{}');
  });

  async function create(task: string, over: Partial<AppDeps> = {}): Promise<string> {
    const a = Object.keys(over).length > 0 ? createApp(deps(over)) : app;
    const res = await a.request('/finetune', {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ ...good, task }),
    });
    assert.equal(res.status, 202, await res.clone().text());
    return ((await res.json()) as { jobId: string }).jobId;
  }
  async function both(
    jobId: string,
    task: string,
  ): Promise<
    [
      { status: string; adapterVersion: string | null; error: { message: string } | null },
      { status: string; adapterVersion: string | null; error: { message: string } | null },
    ]
  > {
    const detail = (await (await call(`/finetune/${jobId}`)).json()) as {
      status: string;
      adapterVersion: string | null;
      error: { message: string } | null;
    };
    const list = (await (await call(`/finetune?task=${task}`)).json()) as {
      data: { jobId: string; status: string; adapterVersion: string | null; error: { message: string } | null }[];
    };
    const listed = list.data.find((j) => j.jobId === jobId)!;
    assert.deepEqual(
      [listed.status, listed.adapterVersion, listed.error],
      [detail.status, detail.adapterVersion, detail.error],
      'the list shows what the detail shows',
    );
    return [detail, listed];
  }

  test("the list merges the launcher's view like the detail does (a container that died reads failed in both)", async () => {
    const jobId = await create('agree-died');
    launcher.views.set(jobId, { state: 'failed', reason: 'Host EC2 terminated' });
    const [d] = await both(jobId, 'agree-died');
    assert.deepEqual([d.status, d.error?.message], ['failed', 'Host EC2 terminated']);
    launcher.views.set(jobId, { state: 'running' });
    assert.equal((await both(jobId, 'agree-died'))[0].status, 'running');
  });

  test("a launcher 'succeeded' is mapped: the job's manifest makes it succeeded, none makes it failed", async () => {
    const published = await create('agree-ok');
    const version = (await registry.adapters.publish(files, { ...meta, task: 'agree-ok', jobId: published })).version;
    launcher.views.set(published, { state: 'succeeded' });
    const [d] = await both(published, 'agree-ok');
    assert.deepEqual([d.status, d.adapterVersion], ['succeeded', version]);

    const silent = await create('agree-silent');
    launcher.views.set(silent, { state: 'succeeded' });
    const [s] = await both(silent, 'agree-silent');
    assert.equal(s.status, 'failed');
    assert.match(s.error!.message, /exited without publishing/);
  });

  test('a manifest naming the job wins over a cancel: succeeded, and cancelling it is 409', async () => {
    const jobId = await create('agree-race');
    await registry.jobs.requestCancel(jobId, { requestedAt: new Date().toISOString() });
    const st = (await registry.jobs.status(jobId))!;
    await registry.jobs.putStatus({ ...st, state: 'cancelled' }); // what an older trainer wrote on SIGTERM while publishing
    const version = (await registry.adapters.publish(files, { ...meta, task: 'agree-race', jobId })).version;
    const [d] = await both(jobId, 'agree-race');
    assert.deepEqual([d.status, d.adapterVersion], ['succeeded', version]);
    const p = await problem(await call(`/finetune/${jobId}/cancel`, { method: 'POST' }), 409);
    assert.match(p.detail, /already succeeded/);
    // A manifest of the same task naming another job does not count.
    const other = await create('agree-race');
    await registry.jobs.requestCancel(other, { requestedAt: new Date().toISOString() });
    assert.equal((await both(other, 'agree-race'))[0].status, 'cancelled');
  });

  test('a job recorded but never launched (the API died before submitting) reads failed after the grace period, in both views', async () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    const jobId = newJobIdFor(t0);
    await registry.jobs.create({
      format: 'adapter-store.job/v1',
      jobId,
      task: 'agree-lost',
      datasetUri: good.datasetUri,
      baseModel: 'tiny',
      hyperparameters: {},
      createdAt: t0.toISOString(),
    });
    await registry.jobs.putStatus(queuedStatus(jobId, t0.toISOString()));
    const early = createApp(deps({ now: () => new Date(t0.getTime() + 60_000) }));
    assert.equal(
      ((await (await early.request(`/finetune/${jobId}`, { headers: AUTH })).json()) as { status: string }).status,
      'queued',
      'within the grace period it may still be launching',
    );
    const [d] = await both(jobId, 'agree-lost');
    assert.equal(d.status, 'failed');
    assert.match(d.error!.message, /never launched/);
  });

  test('a stale idempotency claim (its request died before creating the job) is taken over by a retry, once', async () => {
    const key = 'died-after-claim';
    const old = new Date(Date.now() - 10 * 60_000);
    assert.equal(
      await registry.idempotency.claim(key, { jobId: newJobIdFor(old), requestSha256: sha(good), createdAt: old.toISOString() }),
      null,
    );
    const submitted = launcher.submitted.length;
    const results = await Promise.all(
      [0, 1, 2].map(() => call('/finetune', { method: 'POST', headers: { 'idempotency-key': key }, json: good })),
    );
    const created = new Set<string>();
    for (const r of results) {
      if (r.status === 202) created.add(((await r.json()) as { jobId: string }).jobId);
      else await problem(r, 409);
    }
    assert.equal(created.size, 1, 'one job, whoever won the takeover');
    assert.equal(launcher.submitted.length, submitted + 1);
    const replay = await call('/finetune', { method: 'POST', headers: { 'idempotency-key': key }, json: good });
    assert.equal(replay.status, 202);
    assert.equal(((await replay.json()) as { jobId: string }).jobId, [...created][0]);

    // A fresh claim with no job yet is still "in progress", not taken over.
    const fresh = 'still-working';
    await registry.idempotency.claim(fresh, {
      jobId: newJobIdFor(new Date()),
      requestSha256: sha(good),
      createdAt: new Date().toISOString(),
    });
    await problem(await call('/finetune', { method: 'POST', headers: { 'idempotency-key': fresh }, json: good }), 409);
  });
});

function newJobIdFor(t: Date): string {
  return `ft-${t.getTime().toString(36).padStart(9, '0')}${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 12)}`;
}

/** The request hash the API keeps in a claim (canonical JSON, the default base model filled in). */
function sha(body: typeof good): string {
  return sha256Hex(canonicalJson({ ...body, baseModel: 'tiny' }));
}

describe('spend controls', () => {
  class CountingLauncher extends RecordingLauncher {
    active = new Set<string>();
    override async submit(job: { jobId: string; task: string }): Promise<LaunchedJob> {
      const handle = await super.submit(job);
      this.active.add(job.jobId);
      return handle;
    }
    async activeJobIds(): Promise<string[]> {
      return [...this.active];
    }
  }
  const post = (a: OpenAPIHono, key: string, body: unknown = good) =>
    Promise.resolve(
      a.request('/finetune', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );

  test('per key: beyond its queued + running jobs, 429 with Retry-After; other keys are not affected; a finished job frees a slot', async () => {
    const counting = new CountingLauncher();
    const a = createApp(deps({ launcher: counting, jobLimits: { maxQueuedJobs: 10, maxJobsPerKey: 2, maxJobCost: 1e15 } }));
    const first = await post(a, KEY);
    assert.equal(first.status, 202);
    assert.equal((await post(a, KEY)).status, 202);
    const third = await post(a, KEY);
    const p = await problem(third, 429);
    assert.equal(third.headers.get('retry-after'), '60');
    assert.match(p.detail, /this API key has 2 jobs queued or running.*ADAPTER_STORE_MAX_JOBS_PER_KEY=2/);
    assert.equal((await post(a, 'other-key')).status, 202, 'another key has its own share');
    counting.active.delete(((await first.json()) as { jobId: string }).jobId);
    assert.equal((await post(a, KEY)).status, 202);
    // The owner is a fingerprint of the key, never the key.
    const spec = await registry.jobs.spec([...counting.active][0]);
    assert.match(spec.owner ?? '', /^[0-9a-f]{16}$/);
    assert.doesNotMatch(JSON.stringify(spec), new RegExp(KEY));
  });

  test('the queue: beyond maxQueuedJobs for everyone, 429; concurrent requests cannot overshoot a limit', async () => {
    const counting = new CountingLauncher();
    const a = createApp(deps({ launcher: counting, jobLimits: { maxQueuedJobs: 3, maxJobsPerKey: 3, maxJobCost: 1e15 } }));
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => post(a, i % 2 ? KEY : 'other-key')));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [202, 202, 202, 429, 429, 429]);
    const full = results.find((r) => r.status === 429)!;
    assert.match((await problem(full, 429)).detail, /3 jobs are queued or running.*ADAPTER_STORE_MAX_QUEUED_JOBS=3/);
    assert.equal(counting.submitted.length, 3);
  });

  test('the per-job budget (seeds x steps x batch x sequence length x parameters) is checked at submission; without maxSteps the job gets the cap that fits', async () => {
    // models/tiny/model.safetensors is 1 byte here (no header to count): 1 parameter, so cost = seeds x steps x batch x maxSeqLen.
    const counting = new CountingLauncher();
    const a = createApp(deps({ launcher: counting, jobLimits: { maxQueuedJobs: 10, maxJobsPerKey: 10, maxJobCost: 800 } }));
    const h = { batchSize: 8, maxSeqLen: 8 };
    const fits = await post(a, KEY, { ...good, hyperparameters: { ...h, maxSteps: 10, seeds: [1] } });
    assert.equal(fits.status, 202);
    assert.deepEqual((await registry.jobs.spec(((await fits.json()) as { jobId: string }).jobId)).budget, { maxSteps: 10 });
    const over = await problem(await post(a, KEY, { ...good, hyperparameters: { ...h, maxSteps: 20, seeds: [1] } }), 422);
    assert.deepEqual(fieldNames(over), ['hyperparameters.maxSteps']);
    assert.match(over.detail, /would cost 1\.280e\+3 .* over this deployment's 8\.000e\+2 per job \(ADAPTER_STORE_MAX_JOB_COST\)/);
    const capped = await post(a, KEY, { ...good, hyperparameters: { ...h, seeds: [1, 2] } });
    assert.equal(capped.status, 202);
    const job = (await capped.json()) as { jobId: string; hyperparameters: object };
    assert.deepEqual((await registry.jobs.spec(job.jobId)).budget, { maxSteps: 6 }, 'floor(800 / (2 seeds x 8 x 8))');
    assert.deepEqual(job.hyperparameters, { ...h, seeds: [1, 2] }, 'the request is shown as asked');
    await problem(await post(a, KEY, { ...good, hyperparameters: { ...h, batchSize: 64, seeds: [1, 2] } }), 422);
    assert.equal(counting.submitted.length, 2);
    // A sweep validates: each point counts its evaluations (3 epoch ends x 10,000 rows), and splits the budget.
    const b = createApp(deps({ launcher: counting, jobLimits: { maxQueuedJobs: 10, maxJobsPerKey: 10, maxJobCost: 960_000 } }));
    const sweep = { ...h, maxSteps: 10, seeds: [1], lr: [1e-3, 3e-4, 1e-4, 3e-5], validationSplit: 0.1 };
    const split = await problem(await post(b, KEY, { ...good, hyperparameters: sweep }), 422);
    assert.match(
      split.detail,
      /^point 0 of the sweep would cost 2\.406e\+5 .*, over its share 2\.400e\+5: .* split evenly over the sweep's 4 points$/,
    );
    const sweepCapped = await post(b, KEY, { ...good, hyperparameters: { ...sweep, maxSteps: undefined } });
    assert.equal(sweepCapped.status, 202);
    assert.deepEqual(
      (await registry.jobs.spec(((await sweepCapped.json()) as { jobId: string }).jobId)).budget,
      { maxSteps: 2 },
      '(2 x 8 + 2 evaluations x 10,000) x 8 = 160,128 fits 240,000; 3 steps (3 evaluations) do not',
    );
  });

  test('the review recipe: under a 20-step budget, evalSteps 1 + maxSeqLen 512 + a validation file is refused, naming evalSteps', async () => {
    const counting = new CountingLauncher();
    // 20 steps of the defaults (batch 32, 128 tokens, one seed, no validation) on the 1-parameter base.
    const a = createApp(deps({ launcher: counting, jobLimits: { maxQueuedJobs: 10, maxJobsPerKey: 10, maxJobCost: 20 * 32 * 128 } }));
    const plain = await post(a, KEY, { ...good, hyperparameters: { seeds: [1] } });
    assert.equal(plain.status, 202);
    assert.deepEqual((await registry.jobs.spec(((await plain.json()) as { jobId: string }).jobId)).budget, { maxSteps: 20 });
    const costly = { ...good, validationUri: good.datasetUri, hyperparameters: { seeds: [1], evalSteps: 1, maxSeqLen: 512 } };
    const refused = await problem(await post(a, KEY, costly), 422);
    assert.deepEqual(fieldNames(refused), ['hyperparameters.evalSteps']);
    assert.match(refused.detail, /evaluations x 10000 validation rows/);
    await problem(await post(a, KEY, { ...costly, hyperparameters: { ...costly.hyperparameters, maxSteps: 20 } }), 422);
    assert.equal(counting.submitted.length, 1);
  });

  test('parameters are counted from the shapes in the header: an F16 base counts all its parameters, not half', async () => {
    // 1,000 x 10 F16 values: 20,000 bytes of data (bytes / 4 would say 5,000 parameters; there are 10,000).
    const json = Buffer.from(JSON.stringify({ w: { dtype: 'F16', shape: [1000, 10], data_offsets: [0, 20_000] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    await s3.putObject('registry', 'models/half/config.json', '{}');
    await s3.putObject('registry', 'models/half/model.safetensors', Buffer.concat([length, json, Buffer.alloc(20_000)]));
    const counting = new CountingLauncher();
    const a = createApp(deps({ launcher: counting, jobLimits: { maxQueuedJobs: 10, maxJobsPerKey: 10, maxJobCost: 1e9 } }));
    const res = await post(a, KEY, { ...good, baseModel: 'half', hyperparameters: { batchSize: 8, maxSeqLen: 8, seeds: [1] } });
    assert.equal(res.status, 202);
    const { jobId } = (await res.json()) as { jobId: string };
    assert.deepEqual((await registry.jobs.spec(jobId)).budget, { maxSteps: 1562 }, 'floor(1e9 / (8 x 8 x 10,000))');
  });
});
