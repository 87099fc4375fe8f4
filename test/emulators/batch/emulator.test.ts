/**
 * The Batch emulator through the real `@aws-sdk/client-batch`: jobs run tiny node programs as their
 * "containers" and end the way Batch reports them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  BatchServiceException,
  CancelJobCommand,
  CreateJobQueueCommand,
  DescribeJobDefinitionsCommand,
  DescribeJobsCommand,
  type JobDetail,
  type JobStatus,
  type JobSummary,
  ListJobsCommand,
  type ListJobsCommandInput,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import { waitUntil } from '../../support/wait.ts';
import { ARRAY_CHILD_FAILED, CONTAINER_EXITED, DEPENDENCY_FAILED, globMatch, HOST_TERMINATED } from './emulator.ts';
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

const gateDirs: string[] = [];
after(async () => {
  await batch?.stop();
  for (const dir of gateDirs) await rm(dir, { recursive: true, force: true });
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

async function describeAll(jobIds: string[]): Promise<JobDetail[]> {
  const out = await batch.client.send(new DescribeJobsCommand({ jobs: jobIds }));
  assert.deepEqual(
    out.jobs?.map((j) => j.jobId),
    jobIds,
  );
  return out.jobs!;
}

async function list(input: ListJobsCommandInput): Promise<JobSummary[]> {
  return (await batch.client.send(new ListJobsCommand(input))).jobSummaryList!;
}

/** The ids of an array job's children. */
const childIds = (parent: string, size: number) => Array.from({ length: size }, (_, i) => `${parent}:${i}`);

/**
 * A container command that runs until the test opens its gate (creates a file), instead of sleeping for a
 * guessed time: the test observes RUNNING however slow the machine, then lets the container end.
 */
async function gate(): Promise<{ command: (before?: string) => string[]; open: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'batch-gate-'));
  gateDirs.push(dir);
  const file = join(dir, 'open');
  return {
    command: (before = '') => [
      '-e',
      `${before} const fs = require("node:fs"); setInterval(() => fs.existsSync(process.argv[1]) && process.exit(0), 20)`,
      file,
    ],
    open: async () => {
      await writeFile(file, '');
    },
  };
}

/** A statusSummary with every status, zero unless given. */
const summary = (counts: Partial<Record<JobStatus, number>>) => ({
  SUBMITTED: 0,
  PENDING: 0,
  RUNNABLE: 0,
  STARTING: 0,
  RUNNING: 0,
  SUCCEEDED: 0,
  FAILED: 0,
  ...counts,
});

async function rejects(what: string, call: () => Promise<unknown>, message: RegExp): Promise<void> {
  const err = await call().then(
    () => assert.fail(`${what}: expected a ClientException`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BatchServiceException, what);
  assert.equal(err.name, 'ClientException', what);
  assert.equal(err.$metadata.httpStatusCode, 400, what);
  assert.match(err.message, message, what);
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
  const release = await gate();
  const running = await submit(release.command('console.log("up");'));
  await waitFor(running, ['RUNNING']);
  await batch.client.send(new CancelJobCommand({ jobId: running, reason: 'too late' }));
  assert.equal((await describe(running)).status, 'RUNNING', 'CancelJob leaves a running job alone');
  await release.open();
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

test('a host failure (emulator-only operation) kills the container outright and is retried by a "Host EC2*" rule only', async () => {
  const strategy = {
    attempts: 2,
    evaluateOnExit: [
      { onStatusReason: 'Host EC2*', action: 'RETRY' as const },
      { onReason: '*', action: 'EXIT' as const },
    ],
  };
  // The first attempt ignores SIGTERM and runs until killed; the second ends at once.
  const script = 'process.on("SIGTERM", () => {}); if (process.env.AWS_BATCH_JOB_ATTEMPT === "1") setInterval(() => {}, 1000);';
  const jobId = await submit(['-e', script], { retryStrategy: strategy });
  await waitFor(jobId, ['RUNNING']);
  const res = await fetch(`${batch.endpoint}/v1/emulatorhostfailure`, { method: 'POST', body: JSON.stringify({ jobId }) });
  assert.equal(res.status, 200, await res.text());
  const job = await waitFor(jobId, ['SUCCEEDED', 'FAILED']);
  assert.equal(job.status, 'SUCCEEDED');
  assert.deepEqual(
    job.attempts?.map((a) => [a.statusReason, a.container?.exitCode]),
    [
      [HOST_TERMINATED, 137],
      [CONTAINER_EXITED, 0],
    ],
  );
  const idle = await fetch(`${batch.endpoint}/v1/emulatorhostfailure`, { method: 'POST', body: JSON.stringify({ jobId }) });
  assert.equal(idle.status, 400, 'a job that is not running has no host to lose');
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

test('an array job runs one child per index with AWS_BATCH_JOB_ARRAY_INDEX; the parent runs nothing and SUCCEEDS with them', async () => {
  const parent = await submit(['-e', 'console.log(process.env.AWS_BATCH_JOB_ARRAY_INDEX + " " + process.env.AWS_BATCH_JOB_ID)'], {
    arrayProperties: { size: 3 },
  });
  const ids = childIds(parent, 3);
  const submitted = await describe(parent);
  // Whenever it is looked at (the scheduler moves on every 20 ms): a parent is never RUNNABLE, STARTING or RUNNING.
  assert.ok(['SUBMITTED', 'PENDING', 'SUCCEEDED'].includes(submitted.status!), submitted.status);
  assert.equal(submitted.arrayProperties?.size, 3);
  const done = await waitFor(parent, ['SUCCEEDED', 'FAILED']);
  assert.equal(done.status, 'SUCCEEDED');
  assert.deepEqual(done.arrayProperties?.statusSummary, summary({ SUCCEEDED: 3 }));
  assert.deepEqual(done.attempts, []);
  assert.deepEqual(batch.logs(parent), [], 'the parent runs no container');
  const children = await describeAll(ids);
  assert.deepEqual(
    children.map((c) => [c.status, c.arrayProperties, c.attempts?.length]),
    [0, 1, 2].map((index) => ['SUCCEEDED', { index }, 1]),
  );
  // Each index ran exactly once, in the child of that index, which saw its own id.
  assert.deepEqual(
    ids.map((id) => batch.logs(id)),
    [0, 1, 2].map((i) => [`${i} ${parent}:${i}`]),
  );
  assert.ok(
    children.every((c) => c.stoppedAt! <= done.stoppedAt!),
    'the parent ends after its children',
  );
});

test('a failing child FAILS the array parent once every child is done; the other children still run', async () => {
  const parent = await submit(
    ['-e', 'const i = process.env.AWS_BATCH_JOB_ARRAY_INDEX; console.log("ran " + i); process.exit(i === "1" ? 1 : 0)'],
    { arrayProperties: { size: 3 } },
  );
  const done = await waitFor(parent, ['SUCCEEDED', 'FAILED']);
  assert.equal(done.status, 'FAILED');
  assert.equal(done.statusReason, ARRAY_CHILD_FAILED);
  assert.deepEqual(done.arrayProperties?.statusSummary, summary({ SUCCEEDED: 2, FAILED: 1 }));
  const children = await describeAll(childIds(parent, 3));
  assert.deepEqual(
    children.map((c) => [c.status, c.container?.exitCode]),
    [
      ['SUCCEEDED', 0],
      ['FAILED', 1],
      ['SUCCEEDED', 0],
    ],
  );
  assert.equal(children[1].statusReason, CONTAINER_EXITED);
  assert.deepEqual(
    children.map((c) => batch.logs(c.jobId!)),
    [['ran 0'], ['ran 1'], ['ran 2']],
  );
});

test('the retry strategy applies per child: a retried attempt re-runs that child only', async () => {
  const parent = await submit(
    ['-e', 'const e = process.env; process.exit(e.AWS_BATCH_JOB_ARRAY_INDEX === "2" && e.AWS_BATCH_JOB_ATTEMPT === "1" ? 5 : 0)'],
    { arrayProperties: { size: 3 }, retryStrategy: { attempts: 2 } },
  );
  assert.equal((await waitFor(parent, ['SUCCEEDED', 'FAILED'])).status, 'SUCCEEDED');
  assert.deepEqual(
    (await describeAll(childIds(parent, 3))).map((c) => c.attempts?.map((a) => a.container?.exitCode)),
    [[0], [0], [5, 0]],
  );
});

test('ListJobs by arrayJobId lists the children with their index; a queue lists the parent with its size, not the children', async () => {
  const children = await gate(); // they run until the test has seen two of them RUNNING and the third waiting
  await batch.client.send(new CreateJobQueueCommand({ jobQueueName: 'arrays', priority: 1, computeEnvironmentOrder: [] }));
  const parent = (
    await batch.client.send(
      new SubmitJobCommand({
        jobName: 'arr',
        jobQueue: 'arrays',
        jobDefinition: 'node-job:1',
        arrayProperties: { size: 3 },
        containerOverrides: { command: children.command() },
      }),
    )
  ).jobId!;
  const ids = childIds(parent, 3);
  // Concurrency 2: the two oldest children run, the third waits its turn.
  const running = await waitUntil(
    'two children RUNNING',
    async () => {
      const page = await list({ arrayJobId: parent, jobStatus: 'RUNNING' });
      return page.length === 2 && page;
    },
    { timeoutMs: 20_000, intervalMs: 25 },
  );
  assert.deepEqual(
    running.map((j) => [j.jobId, j.arrayProperties?.index]),
    [
      [ids[0], 0],
      [ids[1], 1],
    ],
  );
  assert.deepEqual(
    (await list({ arrayJobId: parent, jobStatus: 'RUNNABLE' })).map((j) => j.jobId),
    [ids[2]],
  );
  const pending = await describe(parent);
  assert.equal(pending.status, 'PENDING');
  assert.deepEqual(pending.arrayProperties?.statusSummary, summary({ RUNNING: 2, RUNNABLE: 1 }));
  assert.deepEqual(
    (await list({ jobQueue: 'arrays', jobStatus: 'PENDING' })).map((j) => [j.jobId, j.arrayProperties?.size]),
    [[parent, 3]],
  );

  await children.open();
  await waitFor(parent, ['SUCCEEDED']);
  const succeeded = await list({ arrayJobId: parent, jobStatus: 'SUCCEEDED' });
  assert.deepEqual(
    succeeded.map((j) => [j.jobId, j.arrayProperties]),
    ids.map((id, index) => [id, { index }]),
  );
  assert.deepEqual(await list({ arrayJobId: parent }), [], 'none RUNNING');
  const inQueue = await list({ jobQueue: 'arrays', jobStatus: 'SUCCEEDED' });
  assert.deepEqual(
    inQueue.map((j) => [j.jobId, j.arrayProperties?.size, j.arrayProperties?.statusSummary?.SUCCEEDED]),
    [[parent, 3, 3]],
  );
});

test('TerminateJob on a child stops only that child; on the parent it stops the running children and cancels the queued ones', async () => {
  const program =
    'process.on("SIGTERM", () => { console.log("got SIGTERM"); process.exit(143); }); console.log("up"); setInterval(() => {}, 1000)';
  const parent = await submit(['-e', program], { arrayProperties: { size: 4 } });
  const ids = childIds(parent, 4);
  const up = (i: number) =>
    waitUntil(`child ${i} to log "up"`, () => batch.logs(ids[i]).includes('up'), { timeoutMs: 20_000, intervalMs: 20 });
  await up(0);
  await up(1);
  await batch.client.send(new TerminateJobCommand({ jobId: ids[0], reason: 'just this one' }));
  assert.equal((await waitFor(ids[0], ['FAILED'])).statusReason, 'just this one');
  await up(2); // the slot it freed goes to the next child
  assert.equal((await describe(ids[1])).status, 'RUNNING');
  assert.equal((await describe(ids[3])).status, 'RUNNABLE');
  assert.equal((await describe(parent)).status, 'PENDING');

  await batch.client.send(new TerminateJobCommand({ jobId: parent, reason: 'enough' }));
  const done = await waitFor(parent, ['SUCCEEDED', 'FAILED']);
  assert.equal(done.status, 'FAILED');
  assert.equal(done.statusReason, 'enough');
  assert.deepEqual(done.arrayProperties?.statusSummary, summary({ FAILED: 4 }));
  const children = await describeAll(ids);
  assert.deepEqual(
    children.map((c) => [c.status, c.statusReason, c.container?.exitCode, c.attempts?.length]),
    [
      ['FAILED', 'just this one', 143, 1],
      ['FAILED', 'enough', 143, 1],
      ['FAILED', 'enough', 143, 1],
      ['FAILED', 'enough', undefined, 0],
    ],
  );
  for (const i of [0, 1, 2]) assert.ok(batch.logs(ids[i]).includes('got SIGTERM'), `child ${i} got SIGTERM`);
  assert.deepEqual(batch.logs(ids[3]), [], 'the queued child never ran');
});

test('CancelJob on an array parent cancels its queued children; the parent FAILS with the reason once all are done', async () => {
  const held = await startBatchEmulator({ jobQueues: ['q'], images: { node: [process.execPath] }, dispatch: false });
  try {
    await held.client.send(
      new RegisterJobDefinitionCommand({ jobDefinitionName: 'd', type: 'container', containerProperties: { image: 'node' } }),
    );
    const parent = (
      await held.client.send(new SubmitJobCommand({ jobName: 'a', jobQueue: 'q', jobDefinition: 'd', arrayProperties: { size: 2 } }))
    ).jobId!;
    const [first, second] = childIds(parent, 2);
    assert.equal(held.jobs.get(parent)?.status, 'SUBMITTED');
    assert.equal(held.jobs.get(first)?.status, 'PENDING');
    held.update(second, { status: 'RUNNING' });
    assert.equal(held.jobs.get(parent)?.status, 'PENDING', 'a child past PENDING makes the parent PENDING');
    await held.client.send(new CancelJobCommand({ jobId: parent, reason: 'not needed' }));
    assert.equal(held.jobs.get(first)?.status, 'FAILED');
    assert.equal(held.jobs.get(first)?.statusReason, 'not needed');
    assert.equal(held.jobs.get(second)?.status, 'RUNNING', 'CancelJob leaves a running child alone');
    assert.equal(held.jobs.get(parent)?.status, 'PENDING');
    held.update(second, { status: 'SUCCEEDED' });
    const out = await held.client.send(new DescribeJobsCommand({ jobs: [parent] }));
    assert.equal(out.jobs?.[0].status, 'FAILED');
    assert.equal(out.jobs?.[0].statusReason, 'not needed');
    assert.deepEqual(out.jobs?.[0].arrayProperties?.statusSummary, summary({ SUCCEEDED: 1, FAILED: 1 }));
  } finally {
    await held.stop();
  }
});

test('a job depending on an array job stays PENDING until every child SUCCEEDED, then runs', async () => {
  // The children run until the test opens the gate, so the dependent is seen waiting while they run.
  const children = await gate();
  const array = await submit(children.command(), { arrayProperties: { size: 2 } });
  const dependent = await submit(['-e', 'console.log("dependent ran")'], { dependsOn: [{ jobId: array }] });
  for (const id of childIds(array, 2)) await waitFor(id, ['RUNNING']);
  const waiting = await describe(dependent);
  assert.equal(waiting.status, 'PENDING');
  assert.deepEqual(waiting.dependsOn, [{ jobId: array }]);
  await children.open();
  const done = await waitFor(dependent, ['SUCCEEDED', 'FAILED']);
  assert.equal(done.status, 'SUCCEEDED');
  assert.deepEqual(batch.logs(dependent), ['dependent ran']);
  const parent = await describe(array);
  assert.equal(parent.status, 'SUCCEEDED');
  assert.ok(done.startedAt! >= parent.stoppedAt!, 'started after the array ended');
  for (const c of await describeAll(childIds(array, 2))) assert.ok(done.startedAt! >= c.stoppedAt!, `started after ${c.jobId} ended`);
});

test('jobs depending on a FAILED array go FAILED without running (Dependent Job failed), down the chain', async () => {
  const array = await submit(['-e', 'process.exit(process.env.AWS_BATCH_JOB_ARRAY_INDEX === "1" ? 1 : 0)'], {
    arrayProperties: { size: 2 },
  });
  const dependentArray = await submit(['-e', 'console.log("ran")'], { arrayProperties: { size: 2 }, dependsOn: [{ jobId: array }] });
  const last = await submit(['-e', 'console.log("ran")'], { dependsOn: [{ jobId: dependentArray }] });
  const failed = await waitFor(last, ['SUCCEEDED', 'FAILED']);
  assert.equal(failed.status, 'FAILED');
  assert.equal(failed.statusReason, DEPENDENCY_FAILED);
  assert.deepEqual(failed.attempts, []);
  assert.equal(failed.startedAt, undefined);
  assert.equal((await describe(array)).statusReason, ARRAY_CHILD_FAILED);
  const middle = await describe(dependentArray);
  assert.deepEqual([middle.status, middle.statusReason], ['FAILED', DEPENDENCY_FAILED]);
  const children = await describeAll(childIds(dependentArray, 2));
  assert.deepEqual(
    children.map((c) => [c.status, c.statusReason, c.attempts?.length]),
    [
      ['FAILED', DEPENDENCY_FAILED, 0],
      ['FAILED', DEPENDENCY_FAILED, 0],
    ],
  );
  for (const id of [last, ...childIds(dependentArray, 2)]) assert.deepEqual(batch.logs(id), [], `${id} never ran`);
});

test('array and dependency requests Batch refuses answer ClientException', async () => {
  const plain = await submit(['-e', 'process.exit(0)']);
  const array = (size: number | undefined) => () =>
    batch.client.send(new SubmitJobCommand({ jobName: 'x', jobQueue: 'q', jobDefinition: 'node-job:1', arrayProperties: { size } }));
  for (const size of [1, 10_001, 2.5, undefined])
    await rejects(`size ${size}`, array(size), /^arrayProperties\.size must be an integer from 2 to 10000, got/);
  const depending = (dependsOn: { jobId?: string; type?: 'N_TO_N' | 'SEQUENTIAL' }[]) => () =>
    batch.client.send(new SubmitJobCommand({ jobName: 'x', jobQueue: 'q', jobDefinition: 'node-job:1', dependsOn }));
  await rejects('unknown dependency', depending([{ jobId: plain }, { jobId: 'nope' }]), /dependsOn\[1\]\.jobId: job nope not found/);
  await rejects('N_TO_N', depending([{ jobId: plain, type: 'N_TO_N' }]), /type N_TO_N is not emulated/);
  await rejects('SEQUENTIAL', depending([{ type: 'SEQUENTIAL' }]), /type SEQUENTIAL is not emulated/);
  await rejects('21 dependencies', depending(Array.from({ length: 21 }, () => ({ jobId: plain }))), /at most 20/);
  await rejects(
    'nodeOverrides',
    () =>
      batch.client.send(new SubmitJobCommand({ jobName: 'x', jobQueue: 'q', jobDefinition: 'node-job:1', nodeOverrides: { numNodes: 2 } })),
    /nodeOverrides is not emulated/,
  );
  await rejects('unknown array', () => list({ arrayJobId: 'nope' }), /Job nope not found/);
  await rejects('not an array', () => list({ arrayJobId: plain }), /is not an array job/);
  await rejects('queue and array', () => list({ jobQueue: 'q', arrayJobId: plain }), /not both/);
  const described = await batch.client.send(new DescribeJobsCommand({ jobs: [`${plain}:0`] }));
  assert.deepEqual(described.jobs, [], 'a plain job has no children');
});
