/**
 * The fine-tune pipeline through real AWS APIs (emulated, LocalStack or AWS; see config.ts): the Lambda
 * handler with API Gateway v2 events -> Batch SubmitJob -> the trainer image's `run-job` -> an adapter
 * version in S3 -> GET /adapters/:task -> a signed download URL. Cancel is TerminateJob; a container
 * that exits non-zero shows as failed with Batch's or the trainer's reason.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { DescribeJobsCommand, ListJobsCommand } from '@aws-sdk/client-batch';
import { BatchLauncher, CANCEL_REASON } from '../../functions/jobs/batch-launcher.ts';
import type { LaunchedJob } from '../../functions/jobs/launcher.ts';
import { queuedStatus } from '../../shared/job.ts';
import { api, BASE_MODEL, batchJob, type Fixtures, type JobView, setUp, tearDown, waitForBatchJob, waitForJob } from './fixtures.ts';

let f: Fixtures;

before(async () => {
  f = await setUp();
});

after(() => tearDown(f));

interface AdapterDetail {
  task: string;
  latestVersion: string;
  versions: string[];
  manifest: { version: string; jobId: string; files: { name: string; bytes: number; sha256: string }[] };
}

const tiny = { epochs: 1, batchSize: 16, maxSeqLen: 32, validationSplit: 0.25, dropout: 0 };

async function create(task: string, datasetUri: string, hyperparameters: Record<string, unknown>): Promise<JobView> {
  const res = await api('POST', '/finetune', { key: f.config.apiKey, body: { task, datasetUri, baseModel: BASE_MODEL, hyperparameters } });
  assert.equal(res.status, 202, res.text);
  const job = res.json<JobView>();
  assert.equal(res.headers.location, `/finetune/${job.jobId}`);
  assert.equal(job.status, 'queued');
  return job;
}

test('POST /finetune -> Batch job SUCCEEDED -> manifest visible -> signed download hashes to the manifest', async () => {
  const task = `it-sst2-${f.config.runId}`;
  const { jobId } = await create(task, f.datasets.small, tiny);

  const job = await waitForJob(f, jobId);
  const batch = await batchJob(f, jobId);
  assert.equal(job.status, 'succeeded', `${JSON.stringify(job.error)}; Batch: ${batch.status} ${batch.statusReason}`);
  assert.match(job.adapterVersion ?? '', /^\d{8}T\d{9}Z-[0-9a-f]{16}$/);

  // The Batch job itself: what the API submitted, and how it ended.
  const done = await waitForBatchJob(f, jobId);
  assert.equal(done.status, 'SUCCEEDED');
  assert.equal(done.container?.exitCode, 0);
  assert.deepEqual(done.container?.command, ['run-job', '--registry', f.config.registryUri, '--job', jobId]);
  assert.ok(done.container?.environment?.some((e) => e.name === 'ADAPTER_STORE_JOB_ID' && e.value === jobId));
  assert.ok(done.createdAt! <= done.startedAt! && done.startedAt! <= done.stoppedAt!, 'Batch timestamps in order');

  const detail = await api('GET', `/adapters/${task}`, { key: f.config.apiKey });
  assert.equal(detail.status, 200, detail.text);
  const adapter = detail.json<AdapterDetail>();
  assert.equal(adapter.latestVersion, job.adapterVersion);
  assert.deepEqual(adapter.versions, [job.adapterVersion]);
  assert.equal(adapter.manifest.jobId, jobId);
  const file = adapter.manifest.files.find((x) => x.name === 'adapter.safetensors');
  assert.ok(file, 'the manifest lists adapter.safetensors');

  // On AWS the API answers a download with a redirect to a short-lived signed S3 URL; follow it.
  const download = await api('GET', `/adapters/${task}/download`, { key: f.config.apiKey });
  assert.equal(download.status, 302, download.text);
  assert.equal(download.headers['x-adapter-version'], job.adapterVersion);
  const signed = new URL(download.headers.location);
  assert.ok(signed.searchParams.has('X-Amz-Signature'), `a presigned URL: ${signed}`);
  assert.ok(signed.pathname.endsWith(`/adapters/${task}/${job.adapterVersion}/adapter.safetensors`), signed.pathname);
  const res = await fetch(signed);
  assert.equal(res.status, 200);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.equal(bytes.length, file.bytes);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), file.sha256);
});

let cancelled: { jobId: string; task: string } | undefined;

test('a sweep -> one Batch array job (a child per point) + a reduce that depends on it -> the best point is the version', async () => {
  const task = `it-sweep-${f.config.runId}`;
  const res = await api('POST', '/finetune', {
    key: f.config.apiKey,
    body: { task, datasetUri: f.datasets.small, baseModel: BASE_MODEL, hyperparameters: { ...tiny, lr: [3e-2, 1e-3] } },
  });
  assert.equal(res.status, 202, res.text);
  const created = res.json<JobView & { sweep: { points: { settings: unknown; status: string }[] } }>();
  assert.deepEqual(
    created.sweep.points.map((p) => [p.settings, p.status]),
    [
      [{ lr: 3e-2 }, 'queued'],
      [{ lr: 1e-3 }, 'queued'],
    ],
  );

  type SweepJob = JobView & { sweep: { bestPoint: number | null; points: { status: string; score: number | null }[] } };
  const job = (await waitForJob(f, created.jobId)) as SweepJob;
  assert.equal(job.status, 'succeeded', JSON.stringify(job));
  assert.deepEqual(
    job.sweep.points.map((p) => p.status),
    ['succeeded', 'succeeded'],
  );
  const scores = job.sweep.points.map((p) => p.score!);
  assert.equal(job.sweep.bestPoint, scores[1] > scores[0] ? 1 : 0);

  // On Batch: the reduce (which ends just after it reported), depending on the array (size 2, both children SUCCEEDED).
  const reduce = await waitForBatchJob(f, created.jobId);
  assert.equal(reduce.status, 'SUCCEEDED');
  assert.deepEqual(reduce.container?.command, ['run-job', '--registry', f.config.registryUri, '--job', created.jobId, '--reduce']);
  // Given a reduce queue (the stack's Fargate CPU queue; run-emulated.ts gives one), the reduce ran there.
  assert.equal(reduce.jobQueue, process.env.BATCH_REDUCE_JOB_QUEUE || f.config.jobQueue);
  const launch = (await f.registry.jobs.launch<LaunchedJob>(created.jobId))!;
  assert.ok(launch.arrayJobId, 'the launch record names the array job');
  assert.deepEqual(
    reduce.dependsOn?.map((d) => d.jobId),
    [launch.arrayJobId],
  );
  const array = (await f.batch.send(new DescribeJobsCommand({ jobs: [launch.arrayJobId] }))).jobs![0];
  assert.equal(array.status, 'SUCCEEDED');
  assert.equal(array.arrayProperties?.size, 2);
  assert.equal(array.arrayProperties?.statusSummary?.SUCCEEDED, 2);
  const children = await f.batch.send(new ListJobsCommand({ arrayJobId: launch.arrayJobId, jobStatus: 'SUCCEEDED' }));
  assert.deepEqual(children.jobSummaryList?.map((c) => c.arrayProperties?.index).sort(), [0, 1]);

  // One version: the best point's, and its metrics say how it was chosen.
  const detail = await api('GET', `/adapters/${task}`, { key: f.config.apiKey });
  assert.equal(detail.status, 200, detail.text);
  assert.deepEqual(detail.json<AdapterDetail>().versions, [job.adapterVersion]);
  const metrics = await api('GET', `/adapters/${task}/versions/${job.adapterVersion}/metrics`, { key: f.config.apiKey });
  assert.equal(metrics.status, 200, metrics.text);
  assert.match(metrics.text, /"bestPoint":\s*\d/);
});

test('cancelling a sweep terminates its array (every point) and its reduce; nothing is published', async () => {
  const task = `it-sweep-cancel-${f.config.runId}`;
  const res = await api('POST', '/finetune', {
    key: f.config.apiKey,
    body: {
      task,
      datasetUri: f.datasets.large,
      baseModel: BASE_MODEL,
      hyperparameters: { epochs: 20, batchSize: 4, maxSeqLen: 32, dropout: 0, validationSplit: 0.25, lr: [1e-3, 3e-4, 1e-4] },
    },
  });
  assert.equal(res.status, 202, res.text);
  const { jobId } = res.json<JobView>();
  type SweepJob = JobView & { sweep: { points: { status: string; progress: { totalSteps: number } }[] } };
  const training = (await waitForJob(f, jobId, (j) => (j as SweepJob).sweep.points.some((p) => p.progress.totalSteps > 0))) as SweepJob;
  assert.equal(training.status, 'running', JSON.stringify(training));

  const cancel = await api('POST', `/finetune/${jobId}/cancel`, { key: f.config.apiKey });
  assert.equal(cancel.status, 200, cancel.text);
  assert.equal(cancel.json<JobView>().status, 'cancelled');

  const reduce = await waitForBatchJob(f, jobId, 120_000);
  assert.equal(reduce.status, 'FAILED');
  assert.equal(reduce.statusReason, CANCEL_REASON, 'the reduce never ran');
  const launch = (await f.registry.jobs.launch<LaunchedJob>(jobId))!;
  for (let i = 0; ; i++) {
    const array = (await f.batch.send(new DescribeJobsCommand({ jobs: [launch.arrayJobId!] }))).jobs![0];
    if (array.status === 'FAILED') {
      assert.equal(array.arrayProperties?.statusSummary?.SUCCEEDED, 0, 'no point ran to its end');
      break;
    }
    assert.ok(i < 240, `the array is still ${array.status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const final = (await waitForJob(f, jobId)) as SweepJob;
  assert.equal(final.status, 'cancelled');
  assert.ok(
    final.sweep.points.every((p) => p.status === 'cancelled'),
    JSON.stringify(final.sweep.points),
  );
  assert.equal((await api('GET', `/adapters/${task}`, { key: f.config.apiKey })).status, 404);
});

test('cancel -> TerminateJob -> the job reads cancelled, Batch shows FAILED with the reason, nothing is published', async () => {
  const task = `it-cancel-${f.config.runId}`;
  // Thousands of steps: still training when the cancel arrives.
  const { jobId } = await create(task, f.datasets.large, { epochs: 20, batchSize: 4, maxSeqLen: 32, dropout: 0 });
  const training = await waitForJob(f, jobId, (j) => j.progress.totalSteps > 0 || ['succeeded', 'failed', 'cancelled'].includes(j.status));
  assert.equal(training.status, 'running', JSON.stringify(training));

  const res = await api('POST', `/finetune/${jobId}/cancel`, { key: f.config.apiKey });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json<JobView>().status, 'cancelled');

  const stopped = await waitForBatchJob(f, jobId, 120_000);
  assert.equal(stopped.status, 'FAILED');
  assert.equal(stopped.statusReason, CANCEL_REASON);
  assert.notEqual(stopped.container?.exitCode, 0);
  assert.equal((await api('GET', `/adapters/${task}`, { key: f.config.apiKey })).status, 404);
  cancelled = { jobId, task };
});

// The trainer's SIGTERM report comes after the API's cancel; the API's cancel.json keeps the job
// cancelled whatever the trainer wrote last.
test('a cancelled job still reads cancelled after its container has stopped', async () => {
  assert.ok(cancelled, 'the cancel test ran');
  const final = await api('GET', `/finetune/${cancelled.jobId}`, { key: f.config.apiKey });
  assert.equal(final.status, 200);
  assert.equal(final.json<JobView>().status, 'cancelled', final.text);
  assert.equal(final.json<JobView>().adapterVersion, null);
});

test("a container that exits non-zero (malformed dataset) -> failed with the trainer's error, Batch FAILED, no version", async () => {
  const task = `it-malformed-${f.config.runId}`;
  const { jobId } = await create(task, f.datasets.malformed, tiny);
  const job = await waitForJob(f, jobId);
  assert.equal(job.status, 'failed');
  assert.match(job.error?.message ?? '', /it-malformed\.jsonl:2/);

  const batch = await waitForBatchJob(f, jobId);
  assert.equal(batch.status, 'FAILED');
  assert.equal(batch.statusReason, 'Essential container in task exited');
  assert.notEqual(batch.container?.exitCode, 0);
  assert.equal((await api('GET', `/adapters/${task}`, { key: f.config.apiKey })).status, 404);
  const listed = await api('GET', '/adapters', { key: f.config.apiKey });
  assert.ok(!listed.text.includes(task), 'the failed task is not listed');
});

test("a container that dies before it can report -> GET /finetune/:id shows failed with Batch's reason and exit code", async () => {
  // A job whose container cannot reach the registry (a bucket that does not exist) never writes
  // status.json: all the API knows comes from DescribeJobs.
  const jobId = `ft-it-${f.config.runId}-orphan`;
  const now = new Date().toISOString();
  await f.registry.jobs.create({
    format: 'adapter-store.job/v1',
    jobId,
    task: `it-orphan-${f.config.runId}`,
    datasetUri: f.datasets.small,
    baseModel: BASE_MODEL,
    hyperparameters: tiny,
    createdAt: now,
  });
  await f.registry.jobs.putStatus(queuedStatus(jobId, now));
  const launcher = new BatchLauncher({
    jobQueue: f.config.jobQueue,
    jobDefinition: f.config.jobDefinition,
    registryUri: `s3://adapter-store-it-missing-${f.config.runId}`,
    client: f.batch,
  });
  await f.registry.jobs.putLaunch(jobId, await launcher.submit({ jobId, task: 'orphan' }));

  const job = await waitForJob(f, jobId);
  assert.equal(job.status, 'failed');
  assert.match(job.error?.message ?? '', /^Essential container in task exited \(exit code [1-9]\d*/);
  assert.equal((await batchJob(f, jobId)).status, 'FAILED');
});
