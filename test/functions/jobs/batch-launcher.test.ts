/**
 * BatchLauncher through the real `@aws-sdk/client-batch` against the Batch emulator on loopback (with
 * dispatch off, so jobs run nothing and the tests walk them through states): what SubmitJob carries,
 * how DescribeJobs states map, TerminateJob on cancel, and errors.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BatchServiceException, CancelJobCommand, RegisterJobDefinitionCommand } from '@aws-sdk/client-batch';
import { BatchLauncher, batchClientFromEnv, batchJobName, CANCEL_REASON, launcherView } from '../../../functions/jobs/batch-launcher.ts';
import { type BatchEmulatorServer, startBatchEmulator } from '../../emulators/batch/server.ts';

let batch: BatchEmulatorServer;
let launcher: BatchLauncher;

before(async () => {
  batch = await startBatchEmulator({ jobQueues: ['ft-queue', 'ft-reduce-queue', 'q'], dispatch: false });
  // Revision 3 of ft-trainer (what the launcher names), and d for the environment test.
  for (let i = 0; i < 3; i++)
    await batch.client.send(
      new RegisterJobDefinitionCommand({
        jobDefinitionName: 'ft-trainer',
        type: 'container',
        containerProperties: { image: 'adapter-store-trainer' },
      }),
    );
  await batch.client.send(
    new RegisterJobDefinitionCommand({
      jobDefinitionName: 'ft-reduce',
      type: 'container',
      containerProperties: { image: 'adapter-store-trainer' },
    }),
  );
  await batch.client.send(
    new RegisterJobDefinitionCommand({
      jobDefinitionName: 'd',
      type: 'container',
      containerProperties: { image: 'adapter-store-trainer' },
    }),
  );
  launcher = new BatchLauncher({
    jobQueue: 'ft-queue',
    jobDefinition: 'ft-trainer:3',
    reduceJobQueue: 'ft-reduce-queue',
    reduceJobDefinition: 'ft-reduce:1',
    registryUri: 's3://registry/prefix',
    client: batch.client,
  });
});

after(async () => {
  await batch?.stop();
});

test('submit sends SubmitJob with the queue, definition, environment and run-job command', async () => {
  const job = await launcher.submit({ jobId: 'job-1', task: 'sst2' });
  assert.equal(job.jobId, 'job-1');
  const wire = batch.jobs.get(job.externalId)!;
  assert.ok(wire, 'externalId is the Batch job id');
  assert.equal(wire.jobName, 'ft-sst2-job-1');
  // Batch answers with ARNs for what the request named.
  assert.match(wire.jobQueue!, /:job-queue\/ft-queue$/);
  assert.match(wire.jobDefinition!, /:job-definition\/ft-trainer:3$/);
  assert.deepEqual(wire.container?.environment, [
    { name: 'ADAPTER_STORE_REGISTRY', value: 's3://registry/prefix' },
    { name: 'ADAPTER_STORE_JOB_ID', value: 'job-1' },
  ]);
  assert.deepEqual(wire.container?.command, ['run-job', '--registry', 's3://registry/prefix', '--job', 'job-1']);
  // The tag the API's TerminateJob permission is conditioned on (cdk/api.ts).
  assert.deepEqual(wire.tags, { 'adapter-store-queue': 'ft-queue' });
});

test('job names are sanitised to what Batch accepts', () => {
  assert.equal(batchJobName('my.task', 'a/b c'), 'ft-my-task-a-b-c');
  assert.equal(batchJobName('t', 'x'.repeat(200)).length, 128);
});

test('describe maps every Batch status, and a FAILED job carries statusReason and the container exit', async () => {
  const job = await launcher.submit({ jobId: 'job-2', task: 'sst2' });
  const states: [string, string][] = [
    ['SUBMITTED', 'queued'],
    ['PENDING', 'queued'],
    ['RUNNABLE', 'queued'],
    ['STARTING', 'queued'],
    ['RUNNING', 'running'],
    ['SUCCEEDED', 'succeeded'],
  ];
  for (const [status, state] of states) {
    batch.update(job.externalId, { status: status as 'RUNNING' });
    assert.deepEqual(await launcher.describe(job), { state }, status);
  }
  batch.update(job.externalId, {
    status: 'FAILED',
    statusReason: 'Essential container in task exited',
    container: { exitCode: 1, reason: 'OutOfMemoryError: Container killed due to memory usage' },
  });
  assert.deepEqual(await launcher.describe(job), {
    state: 'failed',
    reason: 'Essential container in task exited (exit code 1: OutOfMemoryError: Container killed due to memory usage)',
  });

  // The exit code may only be on the last attempt (retried jobs); a host reclaimed has no container.
  batch.update(job.externalId, { container: {}, attempts: [{ container: { exitCode: 137 } }, { container: { exitCode: 2 } }] });
  assert.deepEqual(await launcher.describe(job), { state: 'failed', reason: 'Essential container in task exited (exit code 2)' });
  batch.update(job.externalId, { statusReason: 'Host EC2 (instance i-0abc) terminated.', attempts: [] });
  assert.deepEqual(await launcher.describe(job), { state: 'failed', reason: 'Host EC2 (instance i-0abc) terminated.' });

  assert.deepEqual(await launcher.describe({ jobId: 'gone', externalId: '00000000-0000-0000-0000-000000000000' }), { state: 'unknown' });
  assert.equal(launcherView({ status: undefined }).state, 'unknown');
});

test('cancel sends TerminateJob with a reason, and the terminated job reads cancelled', async () => {
  const job = await launcher.submit({ jobId: 'job-3', task: 'sst2' });
  batch.update(job.externalId, { status: 'RUNNING' });
  await launcher.cancel(job);
  const terminate = batch.requests.filter((r) => r.op === 'terminatejob').at(-1)!;
  assert.deepEqual(terminate.body, { jobId: job.externalId, reason: CANCEL_REASON });
  assert.deepEqual(await launcher.describe(job), { state: 'cancelled', reason: CANCEL_REASON });
});

test('a sweep is an array job (a child per point) and a reduce that depends on it; describe and cancel cover both', async () => {
  const jobId = 'ft-000000001aaaaaaaaaaaa'; // the API's id shape, which activeJobIds reads back from the job name
  const job = await launcher.submit({ jobId, task: 'sst2', points: 3 });
  assert.ok(job.arrayJobId && job.arrayJobId !== job.externalId);
  const array = batch.jobs.get(job.arrayJobId)!;
  const reduce = batch.jobs.get(job.externalId)!;
  assert.equal(array.arrayProperties?.size, 3);
  assert.deepEqual(array.container?.command, ['run-job', '--registry', 's3://registry/prefix', '--job', jobId]);
  assert.deepEqual(reduce.container?.command, ['run-job', '--registry', 's3://registry/prefix', '--job', jobId, '--reduce']);
  assert.deepEqual(reduce.dependsOn, [{ jobId: job.arrayJobId }]);
  // The points train on the GPU queue; the reduce, which trains nothing, on its own (CPU) queue and definition.
  assert.match(array.jobQueue!, /:job-queue\/ft-queue$/);
  assert.match(array.jobDefinition!, /:job-definition\/ft-trainer:3$/);
  assert.match(reduce.jobQueue!, /:job-queue\/ft-reduce-queue$/);
  assert.match(reduce.jobDefinition!, /:job-definition\/ft-reduce:1$/);
  assert.equal(array.jobName, reduce.jobName);
  assert.deepEqual(reduce.tags, { 'adapter-store-queue': 'ft-queue' });
  // Counted once by the spend limits though it is two Batch jobs on two queues, and still counted once
  // only the reduce is left.
  assert.deepEqual(
    (await launcher.activeJobIds()).filter((id) => id === jobId),
    [jobId],
  );
  batch.update(job.arrayJobId, { status: 'SUCCEEDED' });
  assert.deepEqual(
    (await launcher.activeJobIds()).filter((id) => id === jobId),
    [jobId],
    'the reduce alone, on its own queue',
  );
  batch.update(job.arrayJobId, { status: 'PENDING' });

  assert.deepEqual(await launcher.describe(job), { state: 'queued' });
  batch.update(`${job.arrayJobId}:0`, { status: 'RUNNING' });
  assert.deepEqual(await launcher.describe(job), { state: 'running' }, 'a point has started: the sweep runs');
  batch.update(`${job.arrayJobId}:0`, { status: 'SUCCEEDED' });
  batch.update(`${job.arrayJobId}:1`, { status: 'FAILED', statusReason: 'Host EC2 (instance i-0abc) terminated.' });
  batch.update(`${job.arrayJobId}:2`, { status: 'SUCCEEDED' });
  const failed = await launcher.describe(job);
  assert.equal(failed.state, 'failed');
  // The parent only says "Array Child Job failed"; the failed point says why.
  assert.equal(failed.reason, '1 of 3 sweep points failed (Host EC2 (instance i-0abc) terminated.); the reduce step cannot run');

  const other = await launcher.submit({ jobId: 'job-sweep-2', task: 'sst2', points: 2 });
  const before = batch.requests.length;
  await launcher.cancel(other);
  const terminated = batch.requests
    .slice(before)
    .filter((r) => r.op === 'terminatejob')
    .map((r) => (r.body as { jobId: string }).jobId);
  assert.deepEqual(terminated, [other.externalId, other.arrayJobId], 'the reduce first, then the array');
  assert.deepEqual(await launcher.describe(other), { state: 'cancelled', reason: CANCEL_REASON });
});

/** Batch's statusReason for a job blocking its queue, and the one it gives the job its time limit cancels. */
const NO_CAPACITY = 'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested for instance type [g5.xlarge]';
const TIME_LIMIT = 'Canceled by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY';

test("a job waiting in RUNNABLE carries Batch's reason; cancelled by the queue's time limit, it is failed and says why", async () => {
  const job = await launcher.submit({ jobId: 'job-stuck', task: 'sst2' });
  batch.update(job.externalId, { status: 'RUNNABLE' });
  assert.deepEqual(await launcher.describe(job), { state: 'queued' }, 'waiting its turn: no reason');
  batch.update(job.externalId, { statusReason: NO_CAPACITY });
  assert.deepEqual(await launcher.describe(job), {
    state: 'queued',
    reason: `EC2 has no capacity for the queue's GPU instance types in its Availability Zones (Batch: ${NO_CAPACITY})`,
  });
  batch.update(job.externalId, { statusReason: 'MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS – Batch service role has a permission issue.' });
  assert.match(
    (await launcher.describe(job)).reason!,
    /^AWS Batch's service role lacks a permission \(an operator must fix it\) \(Batch: MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS/,
  );
  batch.update(job.externalId, { statusReason: 'UNDETERMINED - something new' });
  assert.deepEqual(
    await launcher.describe(job),
    { state: 'queued', reason: 'UNDETERMINED - something new' },
    'a code Batch does not document: as Batch says it',
  );

  // What the queue's jobStateTimeLimitActions does (cdk/training.ts): CancelJob with Batch's own reason,
  // which the emulator, like Batch, returns as the FAILED job's statusReason.
  batch.update(job.externalId, { statusReason: NO_CAPACITY });
  await batch.client.send(new CancelJobCommand({ jobId: job.externalId, reason: TIME_LIMIT }));
  assert.equal(batch.jobs.get(job.externalId)?.statusReason, TIME_LIMIT);
  assert.deepEqual(await launcher.describe(job), {
    state: 'failed',
    reason: `Batch cancelled the job after it waited to start longer than the queue allows: EC2 has no capacity for the queue's GPU instance types in its Availability Zones (${TIME_LIMIT})`,
  });
});

test("a sweep whose points cannot start: the waiting point's reason, then the cancelled point's", async () => {
  const job = await launcher.submit({ jobId: 'job-sweep-stuck', task: 'sst2', points: 2 });
  const arrayJobId = job.arrayJobId!;
  batch.update(`${arrayJobId}:0`, { status: 'RUNNABLE', statusReason: NO_CAPACITY });
  batch.update(`${arrayJobId}:1`, { status: 'RUNNABLE' });
  assert.deepEqual(await launcher.describe(job), {
    state: 'queued',
    reason: `EC2 has no capacity for the queue's GPU instance types in its Availability Zones (Batch: ${NO_CAPACITY})`,
  });
  for (const i of [0, 1]) await batch.client.send(new CancelJobCommand({ jobId: `${arrayJobId}:${i}`, reason: TIME_LIMIT }));
  const failed = await launcher.describe(job);
  assert.equal(failed.state, 'failed');
  assert.equal(
    failed.reason,
    `2 of 2 sweep points failed (Batch cancelled the job after it waited to start longer than the queue allows: EC2 has no capacity for the queue's GPU instance types in its Availability Zones (${TIME_LIMIT})); the reduce step cannot run`,
  );
});

test("Batch errors surface as the SDK's typed exceptions with the server's message", async () => {
  const err = await launcher.cancel({ jobId: 'x', externalId: 'no-such-job' }).then(
    () => assert.fail('expected a ClientException'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BatchServiceException);
  assert.equal(err.name, 'ClientException');
  assert.match(err.message, /Job no-such-job not found/);
  assert.equal(err.$metadata.httpStatusCode, 400);
});

test('without a client, the launcher reaches Batch through the standard AWS environment', async () => {
  const saved = Object.fromEntries(Object.keys(batch.env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, batch.env);
  try {
    const fromEnv = new BatchLauncher({ jobQueue: 'q', jobDefinition: 'd', registryUri: 's3://r' });
    const job = await fromEnv.submit({ jobId: 'env-job', task: 't' });
    assert.equal(batch.jobs.get(job.externalId)?.jobName, 'ft-t-env-job');
    assert.deepEqual(await fromEnv.describe(job), { state: 'queued' });
    fromEnv.client.destroy();
    batchClientFromEnv().destroy();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
