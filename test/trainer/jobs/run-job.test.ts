/**
 * `trainer run-job` against a real S3-compatible server on loopback: spec in, status out, adapter
 * published as an immutable version whose manifest lists the files' sha256; a bad dataset ends `failed`
 * with the reason and publishes nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { JobSpec } from '../../../shared/job.ts';
import { Registry } from '../../../shared/registry/index.ts';
import { runTrainerCli } from '../../support/process.ts';
import { type S3TestServer, startS3Server } from '../../support/s3-server.ts';
import { writeTinyBert } from '../../support/tiny-bert.ts';
import { tinyRegistry } from '../../support/tiny-registry.ts';
import { waitUntil } from '../../support/wait.ts';

let s3: S3TestServer;
let registry: Registry;

before(async () => {
  s3 = await startS3Server();
  registry = await tinyRegistry(s3, 'run-job-');
});

after(async () => {
  await s3?.stop();
});

function spec(jobId: string, datasetUri: string): JobSpec {
  return {
    format: 'adapter-store.job/v1',
    jobId,
    task: 'toy',
    datasetUri,
    baseModel: 'tiny',
    createdAt: new Date().toISOString(),
    hyperparameters: { epochs: 2, batchSize: 8, lr: 1e-2, bottleneck: 4, dropout: 0, validationSplit: 0.25 },
  };
}

async function runJob(jobId: string): Promise<{ status: number | null; stderr: string }> {
  const r = await runTrainerCli(['run-job', '--registry', 's3://registry', '--job', jobId, '--status-interval', '0'], s3.env);
  return { status: r.code, stderr: r.stderr };
}

test('a job trains, reports status and publishes a version whose files hash to the manifest', async () => {
  await registry.jobs.create(spec('job-ok', 's3://registry/datasets/toy.jsonl'));
  const r = await runJob('job-ok');
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const status = await registry.jobs.status('job-ok');
  assert.equal(status?.state, 'succeeded');
  assert.equal(status.step, status.totalSteps);
  assert.ok(status.totalSteps > 0 && status.loss !== null && status.validation !== null && status.finishedAt);
  const versions = await registry.adapters.versions('toy');
  assert.deepEqual(versions, [status.adapterVersion]);
  const manifest = (await registry.adapters.manifest('toy', status.adapterVersion!))!;
  assert.equal(manifest.jobId, 'job-ok');
  assert.equal(manifest.baseModel.name, 'tiny');
  assert.deepEqual(manifest.labels, ['neg', 'pos']);
  // Ours, then what the Python adapters library reads (adapter mode with trained LayerNorms: all of them).
  assert.deepEqual(
    manifest.files.map((f) => f.name),
    [
      'adapter.safetensors',
      'adapter_config.json',
      'metrics.json',
      'README.md',
      'pytorch_adapter.bin',
      'head_config.json',
      'pytorch_model_head.bin',
      'model_head.safetensors',
      'layernorms.safetensors',
    ],
  );
  for (const f of manifest.files) {
    const obj = await s3.client.send(
      new GetObjectCommand({ Bucket: 'registry', Key: registry.adapters.fileKey('toy', manifest.version, f.name) }),
    );
    const body = Buffer.from(await obj.Body!.transformToByteArray());
    assert.equal(body.length, f.bytes);
    assert.equal(createHash('sha256').update(body).digest('hex'), f.sha256, f.name);
  }
  assert.deepEqual((await registry.adapters.tasks({ limit: 10 })).tasks, ['toy']);

  // The event log: from running to succeeded, in order, batched into fewer pages than events.
  const { events } = await registry.jobs.listEvents('job-ok');
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'running');
  assert.equal(types[1], 'training-started');
  assert.equal(types.at(-1), 'succeeded');
  assert.ok(types.indexOf('metrics') < types.indexOf('training-finished'), types.join(' '));
  assert.ok(types.includes('evaluation'), types.join(' '));
  const last = events.at(-1)!;
  assert.ok(last.type === 'succeeded' && last.data.adapterVersion === status.adapterVersion);
  const pages = (await registry.list('jobs/job-ok/events/')).keys.length;
  assert.ok(pages < events.length, `${pages} pages for ${events.length} events`);
});

test('a job with a broken dataset ends failed with the reason, and publishes nothing', async () => {
  const before = await registry.adapters.versions('toy');
  await registry.jobs.create(spec('job-bad', 's3://registry/datasets/broken.jsonl'));
  const r = await runJob('job-bad');
  assert.notEqual(r.status, 0);
  const status = await registry.jobs.status('job-bad');
  assert.equal(status?.state, 'failed');
  assert.match(status.error!.message, /:2: malformed JSON/);
  const failed = (await registry.jobs.listEvents('job-bad')).events.at(-1)!;
  assert.ok(failed.type === 'failed' && failed.level === 'error');
  assert.match(failed.data.reason, /:2: malformed JSON/);
  assert.deepEqual(await registry.adapters.versions('toy'), before);

  await registry.jobs.create(spec('job-missing', 's3://registry/datasets/nope.jsonl'));
  assert.notEqual((await runJob('job-missing')).status, 0);
  assert.match((await registry.jobs.status('job-missing'))!.error!.message, /nope\.jsonl: no such object/);
});

test('versions are immutable: publishing into an existing version is refused and leaves it as it was', async () => {
  const meta = {
    task: 'immutable',
    jobId: null,
    baseModel: { name: 'tiny', weightsSha256: 'x' },
    mode: 'adapter' as const,
    labels: ['a', 'b'],
    parameters: { trainable: 1, total: 2 },
    metrics: null,
  };
  const adapterDir = (content: string): string => {
    const dir = mkdtempSync(join(tmpdir(), 'publish-'));
    for (const f of ['adapter.safetensors', 'adapter_config.json', 'metrics.json']) writeFileSync(join(dir, f), `${content} ${f}`);
    return dir;
  };
  const first = await registry.adapters.publish(adapterDir('first'), meta);
  await assert.rejects(registry.adapters.publish(adapterDir('second'), meta, first.version), /already exists and is immutable/);
  assert.deepEqual(await registry.adapters.manifest('immutable', first.version), first);
  assert.deepEqual(await registry.adapters.versions('immutable'), [first.version]);

  const original = spec('job-immutable', 's3://registry/datasets/toy.jsonl');
  await registry.jobs.create(original);
  await assert.rejects(registry.jobs.create({ ...original, task: 'other' }), /already exists and is immutable/);
  assert.equal((await registry.jobs.spec('job-immutable')).task, 'toy');
});

test('SIGTERM (Batch TerminateJob, Spot reclaim) marks the job failed with the reason and exits 143', async () => {
  const long = spec('job-term', 's3://registry/datasets/toy.jsonl');
  long.hyperparameters = { ...long.hyperparameters, epochs: 100, batchSize: 2 };
  await registry.jobs.create(long);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'trainer/cli.ts', 'run-job', '--registry', 's3://registry', '--job', 'job-term', '--status-interval', '0'],
    {
      env: { ...process.env, ...s3.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
      stdio: 'ignore',
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await waitUntil('job-term past step 2', async () => ((await registry.jobs.status('job-term'))?.step ?? 0) >= 2);
  child.kill('SIGTERM');
  assert.equal(await exited, 143);
  const status = await registry.jobs.status('job-term');
  assert.equal(status?.state, 'failed');
  assert.match(status.error!.message, /SIGTERM/);
  // The events buffered when the signal came are written before the exit, the failure last.
  const types = (await registry.jobs.listEvents('job-term')).events.map((e) => e.type);
  assert.deepEqual(types.slice(0, 3), ['running', 'training-started', 'metrics']);
  assert.equal(types.at(-1), 'failed');
  assert.equal(await registry.jobs.status('job-term').then((s) => s?.adapterVersion), undefined);
});

test('SIGTERM in a Batch attempt (which Batch may retry) leaves the job queued, not failed, and exits 143', async () => {
  const long = spec('job-term-batch', 's3://registry/datasets/toy.jsonl');
  long.hyperparameters = { ...long.hyperparameters, epochs: 100, batchSize: 2 };
  await registry.jobs.create(long);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'trainer/cli.ts', 'run-job', '--registry', 's3://registry', '--job', 'job-term-batch', '--status-interval', '0'],
    {
      env: { ...process.env, ...s3.env, ONNXRUNTIME_NODE_INSTALL: 'skip', AWS_BATCH_JOB_ID: 'batch-job-1', AWS_BATCH_JOB_ATTEMPT: '1' },
      stdio: 'ignore',
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await waitUntil('job-term-batch past step 2', async () => ((await registry.jobs.status('job-term-batch'))?.step ?? 0) >= 2);
  child.kill('SIGTERM');
  assert.equal(await exited, 143);
  const status = await registry.jobs.status('job-term-batch');
  assert.equal(status?.state, 'queued', 'a retry may follow: the API reads Batch for the end if none does');
  assert.equal(status.error, undefined);
  const types = (await registry.jobs.listEvents('job-term-batch')).events.map((e) => e.type);
  assert.equal(types.at(-1), 'queued');
  assert.ok(!types.includes('failed'), types.join(' '));
});

test('SIGINT (Ctrl-C on a run-job started by hand) marks the job failed saying so, and exits 130', async () => {
  const long = spec('job-int', 's3://registry/datasets/toy.jsonl');
  long.hyperparameters = { ...long.hyperparameters, epochs: 100, batchSize: 2 };
  await registry.jobs.create(long);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'trainer/cli.ts', 'run-job', '--registry', 's3://registry', '--job', 'job-int', '--status-interval', '0'],
    { env: { ...process.env, ...s3.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await waitUntil('job-int past step 2', async () => ((await registry.jobs.status('job-int'))?.step ?? 0) >= 2);
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  const status = await registry.jobs.status('job-int');
  assert.equal(status?.state, 'failed');
  assert.match(status.error!.message, /interrupted by SIGINT/);
  assert.equal((await registry.jobs.listEvents('job-int')).events.at(-1)?.type, 'failed');
});

test('run-job re-validates spec.json with the API schema: a local-file dataset (SSRF to the host) is refused unread', async () => {
  const { writeFileSync } = await import('node:fs');
  const secret = join(mkdtempSync(join(tmpdir(), 'planted-')), 'secret.jsonl');
  writeFileSync(secret, 'TOP-SECRET-FIRST-LINE\n');
  const cases: [string, Partial<JobSpec>, RegExp][] = [
    ['job-local-path', { datasetUri: secret }, /datasetUri: must be an s3:\/\/bucket\/key URI/],
    ['job-file-url', { datasetUri: `file://${secret}` }, /datasetUri: must be an s3:\/\/bucket\/key URI/],
    ['job-local-val', { validationUri: secret }, /validationUri: must be an s3:\/\/bucket\/key URI/],
    [
      'job-dotdot',
      { datasetUri: 's3://registry/x/../datasets/toy.jsonl' },
      /datasetUri: the key must not have empty, "\." or "\.\." segments/,
    ],
    ['job-huge', { hyperparameters: { epochs: 1000 } }, /hyperparameters\.epochs/],
  ];
  for (const [jobId, over, reason] of cases) {
    await registry.jobs.create({ ...spec(jobId, 's3://registry/datasets/toy.jsonl'), ...over });
    const r = await runJob(jobId);
    assert.notEqual(r.status, 0, jobId);
    const status = await registry.jobs.status(jobId);
    assert.equal(status?.state, 'failed', jobId);
    assert.match(status.error!.message, /spec\.json is not a valid job spec/, jobId);
    assert.match(status.error!.message, reason, jobId);
    assert.doesNotMatch(status.error!.message + r.stderr, /TOP-SECRET/, 'the file is never read');
  }
});

// The race the review found (3 of 4 tries published an adapter yet read "cancelled"): the API writes
// cancel.json and sends SIGTERM while the job publishes. Here the store holds each answer to an
// adapters/ write for 300 ms (the object is stored at once, as S3 completes a request whose client
// died), and the cancel lands at a spread of moments from the end of training through publishing.
// Whatever the moment, the job ends in one of two consistent states: published and succeeded, or
// cancelled with nothing published; "succeeded" is never overwritten.
test('cancel racing publishing: published <=> succeeded, otherwise cancelled, over many tries', { timeout: 600_000 }, async () => {
  const slow = await startS3Server({ slowWrites: { pathContains: '/adapters/', ms: 300 } });
  try {
    await slow.createBucket('registry');
    const reg = Registry.fromUri('s3://registry', slow.client);
    const dir = join(mkdtempSync(join(tmpdir(), 'race-')), 'tiny');
    writeTinyBert(dir);
    await reg.models.upload('tiny', dir, ['config.json', 'model.safetensors', 'vocab.txt']);
    const rows = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ input_ids: [2, 8 + (i % 2) * 20 + (i % 7), 9 + (i % 2) * 20], label: i % 2 ? 'pos' : 'neg' }),
    );
    await slow.putObject('registry', 'datasets/toy.jsonl', `${rows.join('\n')}\n`);

    const tries = 8;
    const outcomes: string[] = [];
    for (let i = 0; i < tries; i++) {
      const jobId = `job-race-${i}`;
      const s = spec(jobId, 's3://registry/datasets/toy.jsonl');
      s.task = 'race';
      s.hyperparameters = { ...s.hyperparameters, epochs: 4 };
      await reg.jobs.create(s);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'trainer/cli.ts', 'run-job', '--registry', 's3://registry', '--job', jobId, '--status-interval', '0'],
        {
          env: { ...process.env, ...slow.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
          stdio: 'ignore',
        },
      );
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      let done = false;
      void exited.then(() => (done = true));
      // From the first step on, a delay that moves the cancel across the end of training and the
      // publishing that follows (four writes of 300 ms).
      for (let t = 0; t < 2400 && !done; t++) {
        if (((await reg.jobs.status(jobId))?.step ?? 0) >= 1) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await new Promise((r) => setTimeout(r, i * 250));
      await reg.jobs.requestCancel(jobId, { requestedAt: new Date().toISOString() });
      child.kill('SIGTERM');
      await exited;
      await new Promise((r) => setTimeout(r, 400)); // writes the store still holds land
      const status = (await reg.jobs.status(jobId))!;
      const published: string[] = [];
      for (const v of await reg.adapters.versions('race')) if ((await reg.adapters.manifest('race', v))?.jobId === jobId) published.push(v);
      outcomes.push(`${status.state}${published.length ? '+published' : ''}`);
      assert.ok(published.length <= 1, `${jobId}: published once at most`);
      if (published.length === 1) {
        assert.equal(
          status.state,
          'succeeded',
          `${jobId}: an adapter was published, so the job reads succeeded (outcomes so far: ${outcomes.join(', ')})`,
        );
        assert.equal(status.adapterVersion, published[0]);
      } else {
        assert.equal(
          status.state,
          'cancelled',
          `${jobId}: nothing was published, so the job reads cancelled (got ${status.state}: ${status.error?.message})`,
        );
      }
    }
    // Not asserted (timing-dependent), but shown: the tries should land on both sides of the race.
    console.log(`cancel race outcomes: ${outcomes.join(', ')}`);
  } finally {
    await slow.stop();
  }
});

test("run-job trains under the spec's budget step cap (the API's per-job compute budget)", async () => {
  const { trainOptionsFromSpec } = await import('../../../trainer/jobs/run-job.ts');
  const paths = { base: 'b', data: 'd', out: 'o', checkpointDir: 'c' };
  const s = spec('job-budget', 's3://registry/datasets/toy.jsonl');
  assert.equal(trainOptionsFromSpec(s, paths).maxSteps, undefined);
  assert.equal(trainOptionsFromSpec({ ...s, budget: { maxSteps: 7 } }, paths).maxSteps, 7);
  assert.equal(
    trainOptionsFromSpec({ ...s, hyperparameters: { ...s.hyperparameters, maxSteps: 3 }, budget: { maxSteps: 7 } }, paths).maxSteps,
    3,
  );
  assert.equal(
    trainOptionsFromSpec({ ...s, hyperparameters: { ...s.hyperparameters, maxSteps: 30 }, budget: { maxSteps: 7 } }, paths).maxSteps,
    7,
  );
  // The validation cap the budget counts (functions/jobs/spend.ts) holds in every job.
  assert.equal(trainOptionsFromSpec(s, paths).maxValidationRows, 10_000);
});
