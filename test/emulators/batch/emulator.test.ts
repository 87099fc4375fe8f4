/**
 * The Batch emulator through the real `@aws-sdk/client-batch`: jobs run tiny node programs as their
 * "containers" and end the way Batch reports them.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  BatchServiceException,
  CancelJobCommand,
  CreateJobQueueCommand,
  DescribeJobDefinitionsCommand,
  DescribeJobsCommand,
  type JobDetail,
  type JobStatus,
  ListJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import { waitUntil } from '../../support/wait.ts';
import { CONTAINER_EXITED, globMatch } from './emulator.ts';
import { type BatchEmulatorServer, startBatchEmulator } from './server.ts';

let batch: BatchEmulatorServer;

before(async () => {
  // `node` runs the job's command as node's arguments; two at a time so queued and running jobs coexist.
  batch = await startBatchEmulator({
    jobQueues: ['q'],
    images: { node: [process.execPath] },
    concurrency: 2,
    stopTimeoutMs: 500,
    containerEnv: { FROM_EMULATOR: 'yes' },
  });
  await batch.client.send(
    new RegisterJobDefinitionCommand({
      jobDefinitionName: 'node-job',
      type: 'container',
      containerProperties: {
        image: 'node',
        command: ['-e', 'process.exit(0)'],
        environment: [
          { name: 'A', value: 'def' },
          { name: 'B', value: 'def' },
        ],
      },
      parameters: { word: 'default-word' },
    }),
  );
});

after(async () => {
  await batch?.stop();
});

async function submit(command: string[], extra: Partial<ConstructorParameters<typeof SubmitJobCommand>[0]> = {}): Promise<string> {
  const out = await batch.client.send(
    new SubmitJobCommand({ jobName: 'j', jobQueue: 'q', jobDefinition: 'node-job', containerOverrides: { command }, ...extra }),
  );
  return out.jobId!;
}

async function describe(jobId: string): Promise<JobDetail> {
  const out = await batch.client.send(new DescribeJobsCommand({ jobs: [jobId] }));
  assert.equal(out.jobs?.length, 1);
  return out.jobs![0];
}

function waitFor(jobId: string, statuses: JobStatus[], timeoutMs = 20_000): Promise<JobDetail> {
  let last: JobDetail | undefined;
  return waitUntil(
    `job ${jobId} to be ${statuses.join('/')}`,
    async () => {
      last = await describe(jobId);
      return statuses.includes(last.status!) && last;
    },
    { timeoutMs, intervalMs: 25, describe: () => `${last?.status}; log: ${batch.logs(jobId).join('\n')}` },
  );
}

test("a job runs its command with the definition's environment plus overrides and SUCCEEDS with exit code 0", async () => {
  const program =
    'const e = process.env; console.log([e.A, e.B, e.C, e.FROM_EMULATOR, e.AWS_BATCH_JQ_NAME, e.AWS_BATCH_JOB_ATTEMPT, e.AWS_BATCH_JOB_ID].join(" "))';
  const jobId = await submit(['-e', program], {
    containerOverrides: {
      command: ['-e', program],
      environment: [
        { name: 'B', value: 'override' },
        { name: 'C', value: 'new' },
      ],
    },
  });
  const job = await waitFor(jobId, ['SUCCEEDED', 'FAILED']);
  assert.equal(job.status, 'SUCCEEDED', batch.logs(jobId).join('\n'));
  assert.equal(job.container?.exitCode, 0);
  assert.deepEqual(job.container?.environment, [
    { name: 'A', value: 'def' },
    { name: 'B', value: 'override' },
    { name: 'C', value: 'new' },
  ]);
  assert.deepEqual(batch.logs(jobId), [`def override new yes q 1 ${jobId}`]);
  assert.ok(job.createdAt! <= job.startedAt! && job.startedAt! <= job.stoppedAt!, 'timestamps in order');
  assert.match(job.jobDefinition!, /^arn:aws:batch:us-east-1:\d{12}:job-definition\/node-job:1$/);
  assert.match(job.jobQueue!, /:job-queue\/q$/);
  assert.equal(job.attempts?.length, 1);
});

test("the definition's command runs when there is no override, with Ref:: parameters substituted", async () => {
  await batch.client.send(
    new RegisterJobDefinitionCommand({
      jobDefinitionName: 'node-job',
      type: 'container',
      parameters: { word: 'default-word' },
      containerProperties: { image: 'node', command: ['-e', 'console.log(process.argv[1])', 'Ref::word'] },
    }),
  );
  const byDefault = (await batch.client.send(new SubmitJobCommand({ jobName: 'p', jobQueue: 'q', jobDefinition: 'node-job' }))).jobId!;
  const given = (
    await batch.client.send(
      new SubmitJobCommand({ jobName: 'p', jobQueue: 'q', jobDefinition: 'node-job:2', parameters: { word: 'given' } }),
    )
  ).jobId!;
  assert.equal((await waitFor(byDefault, ['SUCCEEDED'])).container?.command?.at(-1), 'default-word');
  assert.deepEqual(batch.logs(byDefault), ['default-word']);
  await waitFor(given, ['SUCCEEDED']);
  assert.deepEqual(batch.logs(given), ['given']);
  const defs = await batch.client.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: 'node-job' }));
  assert.deepEqual(
    defs.jobDefinitions?.map((d) => d.revision),
    [1, 2],
  );
});

test("a non-zero exit FAILS the job with Batch's reason, the exit code and the log tail", async () => {
  const jobId = await submit(['-e', 'console.error("boom"); process.exit(3)']);
  const job = await waitFor(jobId, ['SUCCEEDED', 'FAILED']);
  assert.equal(job.status, 'FAILED');
  assert.equal(job.statusReason, CONTAINER_EXITED);
  assert.equal(job.container?.exitCode, 3);
  assert.equal(job.attempts?.at(-1)?.container?.exitCode, 3);
  assert.deepEqual(batch.logs(jobId), ['boom']);
});

test('an image with no local entrypoint fails to start, as a missing image does', async () => {
  await batch.client.send(
    new RegisterJobDefinitionCommand({ jobDefinitionName: 'ghost', type: 'container', containerProperties: { image: 'no-such-image' } }),
  );
  const jobId = (await batch.client.send(new SubmitJobCommand({ jobName: 'g', jobQueue: 'q', jobDefinition: 'ghost' }))).jobId!;
  const job = await waitFor(jobId, ['SUCCEEDED', 'FAILED']);
  assert.equal(job.status, 'FAILED');
  assert.match(job.container?.reason ?? '', /^CannotPullContainerError/);
});

test('TerminateJob stops a RUNNING container (SIGTERM) and the job FAILS with the given reason', async () => {
  // The program says when it got SIGTERM, so the test can tell SIGTERM from the SIGKILL fallback.
  const jobId = await submit([
    '-e',
    'process.on("SIGTERM", () => { console.log("got SIGTERM"); process.exit(143); }); console.log("up"); setInterval(() => {}, 1000)',
  ]);
  await waitFor(jobId, ['RUNNING']);
  await waitUntil(`job ${jobId} to log "up"`, () => batch.logs(jobId).includes('up'), { timeoutMs: 20_000, intervalMs: 20 });
  await batch.client.send(new TerminateJobCommand({ jobId, reason: 'stop it' }));
  const job = await waitFor(jobId, ['SUCCEEDED', 'FAILED']);
  assert.equal(job.status, 'FAILED');
  assert.equal(job.statusReason, 'stop it');
  assert.equal(job.container?.exitCode, 143);
  assert.ok(batch.logs(jobId).includes('got SIGTERM'));
});

test('a container that ignores SIGTERM is killed after the stop timeout', async () => {
  const jobId = await submit(['-e', 'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)']);
  await waitUntil(`job ${jobId} to log "up"`, () => batch.logs(jobId).includes('up'), { timeoutMs: 20_000, intervalMs: 20 });
  const t0 = Date.now();
  await batch.client.send(new TerminateJobCommand({ jobId, reason: 'stop it' }));
  const job = await waitFor(jobId, ['FAILED']);
  assert.ok(Date.now() - t0 >= 400, 'not before the stop timeout (500 ms)');
  assert.equal(job.container?.exitCode, 137);
});

test('CancelJob cancels a queued job but leaves a running one alone; TerminateJob on a queued job fails it at once', async () => {
  const held = await startBatchEmulator({ jobQueues: ['q'], images: { node: [process.execPath] }, dispatch: false });
  try {
    await held.client.send(
      new RegisterJobDefinitionCommand({ jobDefinitionName: 'd', type: 'container', containerProperties: { image: 'node' } }),
    );
    const a = (await held.client.send(new SubmitJobCommand({ jobName: 'a', jobQueue: 'q', jobDefinition: 'd' }))).jobId!;
    const b = (await held.client.send(new SubmitJobCommand({ jobName: 'b', jobQueue: 'q', jobDefinition: 'd' }))).jobId!;
    await held.client.send(new CancelJobCommand({ jobId: a, reason: 'not needed' }));
    assert.equal(held.jobs.get(a)?.status, 'FAILED');
    assert.equal(held.jobs.get(a)?.statusReason, 'not needed');
    await held.client.send(new TerminateJobCommand({ jobId: b, reason: 'terminated early' }));
    assert.equal(held.jobs.get(b)?.status, 'FAILED');
    assert.equal(held.jobs.get(b)?.statusReason, 'terminated early');
  } finally {
    await held.stop();
  }
  const running = await submit(['-e', 'console.log("up"); setTimeout(() => {}, 1500)']);
  await waitFor(running, ['RUNNING']);
  await batch.client.send(new CancelJobCommand({ jobId: running, reason: 'too late' }));
  const job = await waitFor(running, ['SUCCEEDED', 'FAILED']);
  assert.equal(job.status, 'SUCCEEDED');
});

test('retryStrategy: attempts, and evaluateOnExit decides RETRY or EXIT by exit code', async () => {
  const retried = await submit(['-e', 'process.exit(Number(process.env.AWS_BATCH_JOB_ATTEMPT) < 3 ? 7 : 0)'], {
    retryStrategy: { attempts: 3 },
  });
  const ok = await waitFor(retried, ['SUCCEEDED', 'FAILED']);
  assert.equal(ok.status, 'SUCCEEDED');
  assert.deepEqual(
    ok.attempts?.map((a) => a.container?.exitCode),
    [7, 7, 0],
  );

  const exits = await submit(['-e', 'process.exit(2)'], {
    retryStrategy: {
      attempts: 3,
      evaluateOnExit: [
        { onExitCode: '1*', action: 'RETRY' },
        { onExitCode: '*', action: 'EXIT' },
      ],
    },
  });
  const failed = await waitFor(exits, ['SUCCEEDED', 'FAILED']);
  assert.equal(failed.status, 'FAILED');
  assert.equal(failed.attempts?.length, 1, 'exit code 2 matches the EXIT rule');

  assert.ok(globMatch('Host EC2*', 'Host EC2 (instance i-1) terminated.'));
  assert.ok(!globMatch('1', '12'));
});

test('ListJobs filters by queue and status (RUNNING when none is given), and pages with nextToken', async () => {
  await batch.client.send(new CreateJobQueueCommand({ jobQueueName: 'listing', priority: 1, computeEnvironmentOrder: [] }));
  const ids: string[] = [];
  for (let i = 0; i < 5; i++)
    ids.push(
      (await batch.client.send(new SubmitJobCommand({ jobName: `l${i}`, jobQueue: 'listing', jobDefinition: 'node-job:1' }))).jobId!,
    );
  for (const id of ids) await waitFor(id, ['SUCCEEDED']);
  const seen: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await batch.client.send(new ListJobsCommand({ jobQueue: 'listing', jobStatus: 'SUCCEEDED', maxResults: 2, nextToken }));
    seen.push(...page.jobSummaryList!.map((j) => j.jobId!));
    nextToken = page.nextToken;
    pages++;
  } while (nextToken);
  assert.deepEqual(seen, ids);
  assert.equal(pages, 3);
  assert.deepEqual((await batch.client.send(new ListJobsCommand({ jobQueue: 'listing' }))).jobSummaryList, [], 'none RUNNING');
  assert.deepEqual((await batch.client.send(new ListJobsCommand({ jobQueue: 'listing', jobStatus: 'FAILED' }))).jobSummaryList, []);
  const named = await batch.client.send(new ListJobsCommand({ jobQueue: 'listing', filters: [{ name: 'JOB_NAME', values: ['l3*'] }] }));
  assert.deepEqual(
    named.jobSummaryList?.map((j) => j.jobId),
    [ids[3]],
  );
});

test('bad requests answer 400 ClientException with a message', async () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      'unknown queue',
      () => batch.client.send(new SubmitJobCommand({ jobName: 'x', jobQueue: 'nope', jobDefinition: 'node-job' })),
      /JobQueue nope not found/,
    ],
    [
      'unknown definition',
      () => batch.client.send(new SubmitJobCommand({ jobName: 'x', jobQueue: 'q', jobDefinition: 'nope:1' })),
      /JobDefinition nope:1 not found/,
    ],
    [
      'bad job name',
      () => batch.client.send(new SubmitJobCommand({ jobName: 'bad name!', jobQueue: 'q', jobDefinition: 'node-job' })),
      /jobName "bad name!" is invalid/,
    ],
    [
      'reserved variable',
      () =>
        batch.client.send(
          new SubmitJobCommand({
            jobName: 'x',
            jobQueue: 'q',
            jobDefinition: 'node-job',
            containerOverrides: { environment: [{ name: 'AWS_BATCH_JOB_ID', value: 'x' }] },
          }),
        ),
      /reserved/,
    ],
    ['no such job', () => batch.client.send(new TerminateJobCommand({ jobId: 'no-such-job', reason: 'r' })), /Job no-such-job not found/],
    ['no jobs to describe', () => batch.client.send(new DescribeJobsCommand({ jobs: [] })), /jobs must list 1 to 100/],
    ['ListJobs without a queue', () => batch.client.send(new ListJobsCommand({})), /jobQueue is required/],
    [
      'definition without an image',
      () => batch.client.send(new RegisterJobDefinitionCommand({ jobDefinitionName: 'x', type: 'container', containerProperties: {} })),
      /image is required/,
    ],
    [
      'timeout under 60 s',
      () =>
        batch.client.send(
          new RegisterJobDefinitionCommand({
            jobDefinitionName: 'x',
            type: 'container',
            containerProperties: { image: 'node' },
            timeout: { attemptDurationSeconds: 5 },
          }),
        ),
      /attemptDurationSeconds/,
    ],
  ];
  for (const [name, call, message] of cases) {
    const err = await call().then(
      () => assert.fail(`${name}: expected a ClientException`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof BatchServiceException, name);
    assert.equal(err.name, 'ClientException', name);
    assert.equal(err.$metadata.httpStatusCode, 400, name);
    assert.match(err.message, message, name);
  }
  const res = await fetch(`${batch.endpoint}/v1/submitjob`, { method: 'POST', body: '{not json' });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('x-amzn-errortype'), 'ClientException');
  const unknown = await fetch(`${batch.endpoint}/v1/frobnicate`, { method: 'POST', body: '{}' });
  assert.equal(unknown.headers.get('x-amzn-errortype'), 'UnknownOperationException');
});
