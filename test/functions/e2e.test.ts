/**
 * End to end on one machine: POST /finetune on 160 generated sentiment rows (SST-2's format) with a tiny base -> the local runner
 * spawns `trainer run-job` -> the job succeeds -> the manifest is visible -> the downloaded bytes hash to
 * the manifest's sha256. A job on a bad dataset ends failed with a reason and publishes nothing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApp } from '../../functions/app.ts';
import { LocalRunner } from '../../functions/jobs/local-runner.ts';
import { Registry } from '../../shared/registry/index.ts';
import { writeRandomBert } from '../../trainer/model-files/random-bert.ts';
import { type S3TestServer, startS3Server } from '../support/s3-server.ts';
import { BERT_VOCAB_FILE, sentimentRows, toJsonl } from '../support/text-rows.ts';
import { waitUntil } from '../support/wait.ts';

let s3: S3TestServer;
let runner: LocalRunner;
let app: ReturnType<typeof createApp>;
const auth = { authorization: 'Bearer e2e-key', 'content-type': 'application/json' };

before(async () => {
  s3 = await startS3Server();
  await s3.createBucket('registry');
  const registry = Registry.fromUri('s3://registry', s3.client);
  const dir = join(mkdtempSync(join(tmpdir(), 'e2e-')), 'base');
  writeRandomBert(dir, {
    hiddenSize: 16,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 32,
    maxPositions: 64,
    seed: 3,
    vocabFile: BERT_VOCAB_FILE,
  });
  await registry.models.upload('tiny-bert', dir, ['config.json', 'model.safetensors', 'vocab.txt']);
  await s3.putObject('registry', 'datasets/sst2-slice.jsonl', toJsonl(sentimentRows(160)));
  await s3.putObject('registry', 'datasets/bad.jsonl', '{"text": "fine", "label": 1}\n{"text": \n');
  runner = new LocalRunner({ registryUri: 's3://registry', env: s3.env, extraArgs: ['--status-interval', '0', '--threads', '1'] });
  app = createApp({
    registry,
    launcher: runner,
    apiKeys: ['e2e-key'],
    allowedDatasetBuckets: ['registry'],
    defaultBaseModel: 'tiny-bert',
    downloads: 'stream',
    log: () => {},
  });
});

after(async () => {
  await runner?.shutdown();
  await s3?.stop();
});

interface JobView {
  jobId: string;
  status: string;
  adapterVersion: string | null;
  error: { message: string } | null;
}

interface AdapterDetail {
  latestVersion: string;
  manifest: { files: { name: string; bytes: number; sha256: string }[] };
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

function finish(jobId: string): Promise<JobView> {
  return waitUntil(
    `job ${jobId} to finish`,
    async () => {
      const job = await json<JobView>(app.request(`/finetune/${jobId}`, { headers: auth }));
      return ['succeeded', 'failed', 'cancelled'].includes(job.status) && job;
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );
}

test('POST /finetune -> job succeeds -> manifest visible -> download hashes to the manifest', async () => {
  const res = await app.request('/finetune', {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({
      task: 'sst2',
      datasetUri: 's3://registry/datasets/sst2-slice.jsonl',
      hyperparameters: { epochs: 1, batchSize: 16, maxSeqLen: 32, validationSplit: 0.25, dropout: 0 },
    }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  const { jobId } = await json<JobView>(res);
  const job = await finish(jobId);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  const detail = await json<AdapterDetail>(app.request('/adapters/sst2', { headers: auth }));
  assert.equal(detail.latestVersion, job.adapterVersion);
  const file = detail.manifest.files.find((f) => f.name === 'adapter.safetensors')!;
  const download = await app.request('/adapters/sst2/download', { headers: auth });
  assert.equal(download.status, 200);
  const bytes = Buffer.from(await download.arrayBuffer());
  assert.equal(bytes.length, file.bytes);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), file.sha256);
  assert.equal(download.headers.get('etag'), `"${file.sha256}"`);

  // The job's event log, paged 7 at a time: the API's events, the trainer's, the end, in order.
  const events: { id: string; type: string; data: Record<string, unknown> }[] = [];
  let cursor: string | null = null;
  do {
    const page: { data: typeof events; nextCursor: string | null } = await json(
      app.request(`/finetune/${jobId}/events?limit=7${cursor ? `&after=${cursor}` : ''}`, { headers: auth }),
    );
    events.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  const types = events.map((e) => e.type);
  const order = [
    'created',
    'dataset-validated',
    'queued',
    'running',
    'training-started',
    'metrics',
    'evaluation',
    'training-finished',
    'succeeded',
  ];
  assert.deepEqual(
    order.map((t) => types.indexOf(t)),
    order.map((t) => types.indexOf(t)).sort((a, b) => a - b),
    types.join(' '),
  );
  assert.ok(!order.map((t) => types.indexOf(t)).includes(-1), types.join(' '));
  assert.equal(types.at(-1), 'succeeded');
  assert.equal(events.at(-1)!.data.adapterVersion, job.adapterVersion);
  const metrics = events.filter((e) => e.type === 'metrics');
  assert.ok(metrics.length >= 2 && metrics.every((e) => Number.isFinite(e.data.loss) && (e.data.examplesPerSecond as number) > 0));
  const metricsRes = await app.request(`/adapters/sst2/versions/${job.adapterVersion}/metrics`, { headers: auth });
  assert.equal(metricsRes.status, 200);
  assert.ok(((await metricsRes.json()) as { steps: unknown[] }).steps.length > 0);
});

test('a job on a bad dataset ends failed with the reason and leaves no visible version', async () => {
  const before = await json<unknown>(app.request('/adapters', { headers: auth }));
  const res = await app.request('/finetune', {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ task: 'broken', datasetUri: 's3://registry/datasets/bad.jsonl' }),
  });
  assert.equal(res.status, 202);
  const job = await finish((await json<JobView>(res)).jobId);
  assert.equal(job.status, 'failed');
  assert.match(job.error!.message, /bad\.jsonl:2/);
  const events: { data: { type: string; data: { reason?: string } }[] } = await json(
    app.request(`/finetune/${job.jobId}/events`, { headers: auth }),
  );
  const last = events.data.at(-1)!;
  assert.equal(last.type, 'failed');
  assert.match(last.data.reason!, /bad\.jsonl:2/);
  assert.equal((await app.request('/adapters/broken', { headers: auth })).status, 404);
  assert.deepEqual(await json<unknown>(app.request('/adapters', { headers: auth })), before);
});
