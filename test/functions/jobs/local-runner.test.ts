/**
 * LocalRunner against the real trainer (`run-job` child processes) and a real S3-compatible server on
 * loopback: a job succeeds and publishes; concurrency 1 keeps a second job queued until the first
 * ends; cancelling a running job kills it and publishes nothing; a broken dataset fails with a reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { LaunchedJob, LauncherView } from '../../../functions/jobs/launcher.ts';
import { LocalRunner } from '../../../functions/jobs/local-runner.ts';
import type { Hyperparameters, JobSpec } from '../../../shared/job.ts';
import type { Registry } from '../../../shared/registry/index.ts';
import { type S3TestServer, startS3Server } from '../../support/s3-server.ts';
import { tinyRegistry } from '../../support/tiny-registry.ts';
import { waitUntil } from '../../support/wait.ts';

let s3: S3TestServer;
let registry: Registry;
const runners: LocalRunner[] = [];

before(async () => {
  s3 = await startS3Server();
  registry = await tinyRegistry(s3, 'local-runner-');
});

after(async () => {
  for (const r of runners) await r.shutdown();
  await s3?.stop();
});

function runner(concurrency = 1): LocalRunner {
  const r = new LocalRunner({
    registryUri: 's3://registry',
    concurrency,
    env: { ...s3.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    extraArgs: ['--status-interval', '0', '--threads', '1'],
    killGraceMs: 2000,
  });
  runners.push(r);
  return r;
}

async function putSpec(jobId: string, task: string, dataset: string, h: Hyperparameters = {}): Promise<void> {
  const spec: JobSpec = {
    format: 'adapter-store.job/v1',
    jobId,
    task,
    datasetUri: `s3://registry/datasets/${dataset}`,
    baseModel: 'tiny',
    createdAt: new Date().toISOString(),
    hyperparameters: { epochs: 2, batchSize: 8, lr: 1e-2, bottleneck: 4, dropout: 0, validationSplit: 0.25, ...h },
  };
  await registry.jobs.create(spec);
}

const DONE = new Set(['succeeded', 'failed', 'cancelled']);
function settled(r: LocalRunner, job: LaunchedJob): Promise<LauncherView> {
  return waitUntil(`${job.jobId} to end`, async () => {
    const v = await r.describe(job);
    return DONE.has(v.state) ? v : undefined;
  });
}

test('a job runs as a child process, succeeds and publishes a version', async () => {
  const r = runner();
  await putSpec('local-ok', 'local-ok', 'toy.jsonl');
  const job = await r.submit({ jobId: 'local-ok', task: 'local-ok' });
  assert.deepEqual(job, { jobId: 'local-ok', externalId: 'local:local-ok' });
  assert.ok(['queued', 'running'].includes((await r.describe(job)).state));
  const view = await settled(r, job);
  assert.deepEqual(view, { state: 'succeeded' });
  const status = await registry.jobs.status('local-ok');
  assert.equal(status?.state, 'succeeded');
  assert.deepEqual(await registry.adapters.versions('local-ok'), [status.adapterVersion]);
  assert.deepEqual(await r.describe({ jobId: 'nope', externalId: 'local:nope' }), { state: 'unknown' });
});

test('concurrency 1: a second job waits in the queue until the first ends', async () => {
  const r = runner(1);
  await putSpec('local-first', 'local-q', 'toy.jsonl', { epochs: 40 });
  await putSpec('local-second', 'local-q', 'toy.jsonl');
  const first = await r.submit({ jobId: 'local-first', task: 'local-q' });
  const second = await r.submit({ jobId: 'local-second', task: 'local-q' });
  assert.deepEqual(r.load, { queued: 1, running: 1 });
  // While the first trains (its status.json says running), the second has not started.
  await waitUntil('the first job to report running', async () => (await registry.jobs.status('local-first'))?.state === 'running');
  assert.equal((await r.describe(first)).state, 'running');
  assert.equal((await r.describe(second)).state, 'queued');
  assert.equal(await registry.jobs.status('local-second'), null);

  assert.equal((await settled(r, first)).state, 'succeeded');
  assert.equal((await settled(r, second)).state, 'succeeded');
  const a = (await registry.jobs.status('local-first'))!;
  const b = (await registry.jobs.status('local-second'))!;
  assert.ok(b.startedAt! >= a.finishedAt!, `second started ${b.startedAt} before the first finished ${a.finishedAt}`);
  assert.equal((await registry.adapters.versions('local-q')).length, 2);
});

test('cancel: a queued job never starts, a running one is killed and publishes nothing', async () => {
  const r = runner(1);
  // The most epochs a spec may ask for (run-job re-validates it), one row a step: minutes of training.
  await putSpec('local-long', 'local-c', 'toy.jsonl', { epochs: 100, batchSize: 1 });
  await putSpec('local-waiting', 'local-c', 'toy.jsonl');
  const long = await r.submit({ jobId: 'local-long', task: 'local-c' });
  const waiting = await r.submit({ jobId: 'local-waiting', task: 'local-c' });
  await r.cancel(waiting);
  assert.equal((await r.describe(waiting)).state, 'cancelled');

  await waitUntil('the long job to train', async () => ((await registry.jobs.status('local-long'))?.step ?? 0) > 0);
  assert.equal((await r.describe(long)).state, 'running');
  await r.cancel(long);
  assert.equal((await r.describe(long)).state, 'cancelled');
  assert.deepEqual(r.load, { queued: 0, running: 0 });
  // cancel() resolved once the child had exited: nothing can be published after this point.
  assert.deepEqual(await registry.adapters.versions('local-c'), []);
  assert.equal(await registry.jobs.status('local-waiting'), null);
  assert.notEqual((await registry.jobs.status('local-long'))?.state, 'succeeded');
});

test("a job whose dataset is broken fails with the exit code and the trainer's last stderr line", async () => {
  const r = runner();
  await putSpec('local-bad', 'local-bad', 'broken.jsonl');
  const job = await r.submit({ jobId: 'local-bad', task: 'local-bad' });
  const view = await settled(r, job);
  assert.equal(view.state, 'failed');
  assert.match(view.reason!, /^exit code 1: error: .*:2: malformed JSON/);
  assert.equal((await registry.jobs.status('local-bad'))?.state, 'failed');
  assert.deepEqual(await registry.adapters.versions('local-bad'), []);
});

test('shutdown kills running children and hands back the queued job ids', async () => {
  const r = runner(1);
  await putSpec('local-s1', 'local-s', 'toy.jsonl', { epochs: 100, batchSize: 1 });
  await putSpec('local-s2', 'local-s', 'toy.jsonl');
  await putSpec('local-s3', 'local-s', 'toy.jsonl');
  const s1 = await r.submit({ jobId: 'local-s1', task: 'local-s' });
  await r.submit({ jobId: 'local-s2', task: 'local-s' });
  await r.submit({ jobId: 'local-s3', task: 'local-s' });
  await waitUntil('the first job to start', async () => (await registry.jobs.status('local-s1'))?.state === 'running');
  assert.deepEqual(await r.shutdown(), ['local-s2', 'local-s3']);
  assert.deepEqual(await r.describe(s1), { state: 'failed', reason: 'interrupted by shutdown' });
  await assert.rejects(r.submit({ jobId: 'local-s4', task: 'local-s' }), /shut down/);
});

test('shutdown with stopWithParent: the child stops and leaves its job queued, and the runner says queued too', async () => {
  const logged: Record<string, unknown>[] = [];
  const pidDir = mkdtempSync(join(tmpdir(), 'local-runner-pids-'));
  const r = new LocalRunner({
    registryUri: 's3://registry',
    env: { ...s3.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    extraArgs: ['--status-interval', '0', '--threads', '1'],
    stopWithParent: true,
    pidDir,
    log: (e) => logged.push(e),
  });
  runners.push(r);
  await putSpec('local-p1', 'local-p', 'toy.jsonl', { epochs: 100, batchSize: 1 });
  await putSpec('local-p2', 'local-p', 'toy.jsonl');
  const p1 = await r.submit({ jobId: 'local-p1', task: 'local-p' });
  const p2 = await r.submit({ jobId: 'local-p2', task: 'local-p' });
  await waitUntil('the first job to train', async () => ((await registry.jobs.status('local-p1'))?.step ?? 0) > 0);
  assert.deepEqual(readdirSync(pidDir), ['local-p1.pid'], 'the running child has a pid file');
  assert.deepEqual(await r.shutdown(), ['local-p2']);
  assert.equal((await registry.jobs.status('local-p1'))?.state, 'queued');
  assert.equal((await r.describe(p1)).state, 'queued');
  assert.equal((await r.describe(p2)).state, 'queued');
  assert.ok(
    logged.some((e) => e.event === 'job-stopped' && e.job === 'local-p1' && e.state === 'queued'),
    JSON.stringify(logged),
  );
  assert.ok(!logged.some((e) => e.state === 'failed'), 'nothing is logged as failed');
  assert.deepEqual(readdirSync(pidDir), [], 'the pid file goes with the child');
});

test('shutdown with stopWithParent: a child that ends 0 (it was publishing) is logged succeeded, one that ends 143 queued', async () => {
  for (const [exit, state] of [
    [0, 'succeeded'],
    [143, 'queued'],
  ] as const) {
    const logged: Record<string, unknown>[] = [];
    // A stand-in trainer: it runs until its stdin (the pipe from the runner) ends, then exits with `exit`.
    const script = `process.stdin.on('end', () => process.exit(${exit})).resume(); setInterval(() => {}, 1000);`;
    const r = new LocalRunner({
      registryUri: 's3://registry',
      command: [process.execPath, '-e', script],
      stopWithParent: true,
      log: (e) => logged.push(e),
    });
    runners.push(r);
    const job = await r.submit({ jobId: `local-end-${exit}`, task: 'x' });
    await waitUntil('the child to run', () => logged.some((e) => e.event === 'job-started'));
    await r.shutdown();
    assert.equal((await r.describe(job)).state, state);
    assert.ok(
      logged.some((e) => e.job === job.jobId && e.state === state),
      JSON.stringify(logged),
    );
  }
});

test('a trainer that cannot be started fails the job instead of the runner', async () => {
  const r = new LocalRunner({ registryUri: 's3://registry', command: ['/nonexistent/trainer'] });
  runners.push(r);
  const job = await r.submit({ jobId: 'local-nostart', task: 'x' });
  const view = await settled(r, job);
  assert.equal(view.state, 'failed');
  assert.match(view.reason!, /ENOENT/);
  assert.deepEqual(r.load, { queued: 0, running: 0 });
});

test("children get only the environment they need: never the API key nor the shell's AWS credentials", async () => {
  const { childEnv } = await import('../../../functions/jobs/local-runner.ts');
  const parent = {
    PATH: '/bin',
    HOME: '/h',
    LANG: 'C.UTF-8',
    ADAPTER_STORE_API_KEY: 'secret-key-0123456789',
    AWS_SECRET_ACCESS_KEY: 'shell',
    AWS_ACCESS_KEY_ID: 'shell',
    GITHUB_TOKEN: 't',
    TRAINER_DEVICE: 'cpu',
    NODE_OPTIONS: '--openssl-legacy-provider',
    ADAPTER_STORE_MAX_LABELS: '50',
    ADAPTER_STORE_MAX_LABEL_CHARS: '32',
  };
  const env = childEnv(parent, {
    AWS_ACCESS_KEY_ID: 'store',
    AWS_SECRET_ACCESS_KEY: 'store-secret',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1',
  });
  assert.deepEqual(env, {
    PATH: '/bin',
    HOME: '/h',
    LANG: 'C.UTF-8',
    TRAINER_DEVICE: 'cpu',
    NODE_OPTIONS: '--openssl-legacy-provider',
    ADAPTER_STORE_MAX_LABELS: '50',
    ADAPTER_STORE_MAX_LABEL_CHARS: '32',
    AWS_ACCESS_KEY_ID: 'store',
    AWS_SECRET_ACCESS_KEY: 'store-secret',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1',
  });

  // And a real child sees exactly that: a command that prints its environment.
  const out = join(mkdtempSync(join(tmpdir(), 'child-env-')), 'env.json');
  const saved = process.env.ADAPTER_STORE_API_KEY;
  process.env.ADAPTER_STORE_API_KEY = 'secret-key-0123456789';
  try {
    const r = new LocalRunner({
      registryUri: 's3://registry',
      env: { STORE_ONLY: '1' },
      command: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.env))`, '--'],
    });
    runners.push(r);
    await r.submit({ jobId: 'env-probe', task: 'toy' });
    const view = await waitUntil('the probe to exit', async () => {
      const v = await r.describe({ jobId: 'env-probe', externalId: 'local:env-probe' });
      return v.state === 'succeeded' || v.state === 'failed' ? v : undefined;
    });
    assert.equal(view.state, 'succeeded', view.reason);
    const seen = JSON.parse((await import('node:fs')).readFileSync(out, 'utf8')) as Record<string, string>;
    assert.equal(seen.STORE_ONLY, '1');
    assert.equal(seen.ADAPTER_STORE_API_KEY, undefined);
    assert.ok(seen.PATH);
  } finally {
    if (saved === undefined) delete process.env.ADAPTER_STORE_API_KEY;
    else process.env.ADAPTER_STORE_API_KEY = saved;
  }
});
