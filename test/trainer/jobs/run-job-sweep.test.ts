/**
 * A job whose hyperparameters list values is a sweep: `run-job` trains every point (locally one after
 * another; as Batch array children one point each, by AWS_BATCH_JOB_ARRAY_INDEX) and a reduce step
 * publishes the best point on validation, with every point's result in its metrics.json. Against a real
 * S3-compatible server, through the trainer CLI as Batch runs it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { JobSpec, PointStatus } from '../../../shared/job.ts';
import type { Registry } from '../../../shared/registry/index.ts';
import type { SweepHyperparameters } from '../../../shared/sweep.ts';
import type { SweepPointSummary } from '../../../trainer/jobs/sweep-reduce.ts';
import { runTrainerCli } from '../../support/process.ts';
import { type S3TestServer, startS3Server } from '../../support/s3-server.ts';
import { tinyRegistry } from '../../support/tiny-registry.ts';

let s3: S3TestServer;
let registry: Registry;

before(async () => {
  s3 = await startS3Server();
  registry = await tinyRegistry(s3, 'run-job-sweep-');
});

after(async () => {
  await s3?.stop();
});

const common = { epochs: 2, batchSize: 8, bottleneck: 4, dropout: 0, validationSplit: 0.25, evalSteps: 2 };

async function putSweep(jobId: string, task: string, sweep: SweepHyperparameters): Promise<JobSpec> {
  const spec: JobSpec = {
    format: 'adapter-store.job/v1',
    jobId,
    task,
    datasetUri: 's3://registry/datasets/toy.jsonl',
    baseModel: 'tiny',
    createdAt: new Date().toISOString(),
    hyperparameters: { ...common, ...sweep },
  };
  await registry.jobs.create(spec);
  return spec;
}

function runJob(jobId: string, args: string[] = [], env: Record<string, string> = {}) {
  return runTrainerCli(['run-job', '--registry', 's3://registry', '--job', jobId, '--status-interval', '0', ...args], {
    ...s3.env,
    ...env,
  });
}

async function pointStatuses(jobId: string, n: number): Promise<PointStatus[]> {
  return Promise.all(Array.from({ length: n }, async (_, i) => (await registry.jobs.pointStatus(jobId, i))!));
}

/** The published version's metrics.json, parsed. */
async function publishedMetrics(task: string, version: string): Promise<{ sweep: { bestPoint: number; points: SweepPointSummary[] } }> {
  const body = await registry.adapters.openFile(task, version, 'metrics.json');
  assert.ok(body, 'metrics.json is published');
  return JSON.parse(Buffer.concat(await body.stream.toArray()).toString('utf8'));
}

/** Index of the best score (ties to the first), as the product's selection should pick with one seed. */
const argmax = (xs: number[]) => xs.reduce((bi, x, i) => (x > xs[bi] ? i : bi), 0);

test('run locally, a sweep trains every point, records a failing one, and publishes the best point with every result', async () => {
  // Three points: two learning rates on all layers, and one whose layer range the tiny model lacks (it fails).
  await putSweep('sweep-local', 'sweep-local', { lr: [3e-2, 1e-3], adapterLayers: ['0-1', '5-9'] });
  const r = await runJob('sweep-local');
  assert.equal(r.code, 0, r.stderr.slice(-3000));

  const points = await pointStatuses('sweep-local', 4);
  assert.deepEqual(
    points.map((p) => [p.point, p.settings, p.state]),
    [
      [0, { adapterLayers: '0-1', lr: 3e-2 }, 'succeeded'],
      [1, { adapterLayers: '0-1', lr: 1e-3 }, 'succeeded'],
      [2, { adapterLayers: '5-9', lr: 3e-2 }, 'failed'],
      [3, { adapterLayers: '5-9', lr: 1e-3 }, 'failed'],
    ],
  );
  assert.match(points[2].error!.message, /outside the model's layers/);
  for (const p of points.slice(0, 2)) {
    assert.equal(p.seeds?.length, 1);
    assert.equal(p.score, p.seeds![0].score);
    assert.equal(p.score, p.best!.accuracy, 'the score is the selection metric (accuracy) of the best evaluation');
    assert.ok(p.step === p.totalSteps && p.totalSteps > 0);
  }

  const status = (await registry.jobs.status('sweep-local'))!;
  assert.equal(status.state, 'succeeded', JSON.stringify(status));
  const expected = argmax(points.slice(0, 2).map((p) => p.score!));
  assert.equal(status.sweep?.bestPoint, expected);
  assert.deepEqual(status.validation, points[expected].best);

  // Exactly one version: the winner's, with its validation metrics and every point's result.
  const versions = await registry.adapters.versions('sweep-local');
  assert.deepEqual(versions, [status.adapterVersion]);
  const manifest = (await registry.adapters.manifest('sweep-local', status.adapterVersion!))!;
  assert.equal(manifest.metrics?.accuracy, points[expected].best!.accuracy);
  const metrics = await publishedMetrics('sweep-local', status.adapterVersion!);
  assert.equal(metrics.sweep.bestPoint, expected);
  assert.deepEqual(
    metrics.sweep.points.map((p) => [p.point, p.state, p.score]),
    points.map((p) => [p.point, p.state, p.state === 'succeeded' ? p.score : null]),
  );
  assert.match(metrics.sweep.points[3].error!, /outside the model's layers/);

  const { events } = await registry.jobs.listEvents('sweep-local');
  const types = events.map((e) => e.type);
  assert.equal(types.filter((t) => t === 'point-started').length, 4);
  assert.equal(types.filter((t) => t === 'point-finished').length, 4);
  assert.deepEqual(types.slice(-2), ['sweep-selected', 'succeeded']);
  assert.ok(!types.includes('metrics'), 'points do not interleave their step metrics in the job log');
});

test('as Batch runs it, each array child trains the point of its AWS_BATCH_JOB_ARRAY_INDEX, then the reduce publishes', async () => {
  await putSweep('sweep-array', 'sweep-array', { lr: [3e-2, 1e-3] });
  for (const index of ['1', '0']) {
    const r = await runJob('sweep-array', [], { AWS_BATCH_JOB_ARRAY_INDEX: index });
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const p = (await registry.jobs.pointStatus('sweep-array', Number(index)))!;
    assert.equal(p.state, 'succeeded');
    // A child publishes nothing: the job is still queued and no version exists.
    assert.deepEqual(await registry.adapters.versions('sweep-array'), []);
  }
  const points = await pointStatuses('sweep-array', 2);
  const r = await runJob('sweep-array', ['--reduce']);
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const status = (await registry.jobs.status('sweep-array'))!;
  assert.equal(status.state, 'succeeded');
  assert.equal(status.sweep?.bestPoint, argmax(points.map((p) => p.score!)));
  // A retried reduce publishes nothing more.
  assert.equal((await runJob('sweep-array', ['--reduce'])).code, 0);
  assert.deepEqual(await registry.adapters.versions('sweep-array'), [status.adapterVersion]);
});

test("a reduce that cannot publish (the winner's staged adapter is gone) fails the job saying why", async () => {
  await putSweep('sweep-lost', 'sweep-lost', { lr: [3e-2, 1e-3] });
  for (const index of ['0', '1']) assert.equal((await runJob('sweep-lost', [], { AWS_BATCH_JOB_ARRAY_INDEX: index })).code, 0);
  const staged = (await registry.list('jobs/sweep-lost/points/')).keys.filter((k) => k.key.includes('/adapter/'));
  assert.ok(staged.length >= 6, 'both points staged their adapter files');
  for (const { key } of staged) await s3.client.send(new DeleteObjectCommand({ Bucket: 'registry', Key: key }));
  const r = await runJob('sweep-lost', ['--reduce']);
  assert.notEqual(r.code, 0);
  const status = (await registry.jobs.status('sweep-lost'))!;
  assert.equal(status.state, 'failed');
  assert.match(
    status.error!.message,
    /^publishing the sweep's best point \d failed: point \d finished but its staged adapter .* is missing$/,
  );
  assert.deepEqual(await registry.adapters.versions('sweep-lost'), []);
});

test('a sweep none of whose points finishes fails, naming each point and why; nothing is published', async () => {
  await putSweep('sweep-none', 'sweep-none', { adapterLayers: ['5-6', '7-9'] });
  const r = await runJob('sweep-none');
  assert.notEqual(r.code, 0);
  const status = (await registry.jobs.status('sweep-none'))!;
  assert.equal(status.state, 'failed');
  assert.match(
    status.error!.message,
    /no point of the sweep finished.*point 0 \(adapterLayers=5-6\): .*outside.*point 1 \(adapterLayers=7-9\): .*outside/,
  );
  assert.deepEqual(await registry.adapters.versions('sweep-none'), []);
});

test('run-job refuses a point the sweep does not have, a malformed array index, and --point on a plain job', async () => {
  await putSweep('sweep-bounds', 'sweep-bounds', { lr: [3e-2, 1e-3] });
  const outside = await runJob('sweep-bounds', ['--point', '2']);
  assert.notEqual(outside.code, 0);
  assert.match(outside.stderr, /sweeps 2 points \(0 to 1\); there is no point 2/);
  const malformed = await runJob('sweep-bounds', [], { AWS_BATCH_JOB_ARRAY_INDEX: 'x1' });
  assert.notEqual(malformed.code, 0);
  assert.match(malformed.stderr, /AWS_BATCH_JOB_ARRAY_INDEX="x1" is not an array index/);
  const both = await runJob('sweep-bounds', ['--point', '0', '--reduce']);
  assert.notEqual(both.code, 0);
  assert.match(both.stderr, /--point and --reduce: give one/);
  await registry.jobs.create({ ...(await registry.jobs.spec('sweep-bounds')), jobId: 'plain', hyperparameters: common });
  const plain = await runJob('plain', ['--point', '0']);
  assert.notEqual(plain.code, 0);
  assert.match(plain.stderr, /job plain is not a sweep/);
  assert.equal(await registry.jobs.pointStatus('sweep-bounds', 0), null, 'nothing trained');
});
