/**
 * jobView: what GET /finetune/:id and the list show, from the facts each party writes (status.json, the
 * cancel record, the launch record, the launcher's description, a manifest naming the job). A table of cases.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobSchema } from '../../functions/schemas.ts';
import { type JobSpec, type JobStatus, type PointStatus, queuedStatus } from '../../shared/job.ts';
import {
  awaitsRunner,
  factsToRead,
  isFinal,
  type JobFacts,
  jobView,
  LAUNCH_GRACE_MS,
  publicationMatters,
} from '../../shared/job-lifecycle.ts';
import { belowMajority } from '../../shared/majority-baseline.ts';

const CREATED = '2026-01-01T00:00:00.000Z';
const SOON = '2026-01-01T00:01:00.000Z';
const LATE = new Date(Date.parse(CREATED) + LAUNCH_GRACE_MS + 1).toISOString();

const spec: JobSpec = {
  format: 'adapter-store.job/v1',
  jobId: 'ft-view',
  task: 'toy',
  datasetUri: 's3://bucket/toy.jsonl',
  baseModel: 'tiny',
  hyperparameters: {},
  createdAt: CREATED,
};

const status = (over: Partial<JobStatus> = {}): JobStatus => ({ ...queuedStatus('ft-view', CREATED), ...over });
const facts = (over: Partial<JobFacts> = {}): JobFacts => ({
  spec,
  status: status(),
  points: [],
  cancel: null,
  defaultMetric: 'accuracy',
  now: SOON,
  ...over,
});

const running = status({ state: 'running', step: 5, totalSteps: 10, startedAt: CREATED });
const cancel = { requestedAt: '2026-01-01T00:00:30.000Z' };

// [case, facts, expected status, expected error (a pattern) or null, more checks]
const cases: [string, JobFacts, JobStatus['state'], RegExp | null, ((v: ReturnType<typeof jobView>) => void)?][] = [
  ['no status yet: queued', facts({ status: null }), 'queued', null, (v) => assert.equal(v.updatedAt, null)],
  [
    'queued, launched, the launcher still queues it (no reason given: none shown)',
    facts({ launched: true, launcher: { state: 'queued' } }),
    'queued',
    null,
    (v) => assert.equal(v.waiting, null),
  ],
  [
    "queued with the launcher's reason (Batch: no capacity): the job says why it waits",
    facts({
      launched: true,
      launcher: { state: 'queued', reason: 'waiting for GPU capacity: MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE' },
    }),
    'queued',
    null,
    (v) => assert.deepEqual(v.waiting, { reason: 'waiting for GPU capacity: MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE' }),
  ],
  [
    'a running job shows no waiting reason',
    facts({ status: running, launched: true, launcher: { state: 'running', reason: 'stale' } }),
    'running',
    null,
    (v) => assert.equal(v.waiting, null),
  ],
  ['queued, the launcher runs it: running', facts({ launched: true, launcher: { state: 'running' } }), 'running', null],
  ['running as the trainer says', facts({ status: running }), 'running', null, (v) => assert.equal(v.progress.fraction, 0.5)],
  [
    'the launcher says failed before the trainer reported: failed with its reason',
    facts({ status: running, launched: true, launcher: { state: 'failed', reason: 'Host EC2 (instance i-1) terminated.' } }),
    'failed',
    /Host EC2/,
  ],
  [
    'the launcher says failed without a reason',
    facts({ status: running, launcher: { state: 'failed' } }),
    'failed',
    /stopped without reporting why/,
  ],
  [
    "the launcher cancelled it (e.g. Batch, RUNNABLE too long): cancelled with the launcher's reason",
    facts({ launched: true, launcher: { state: 'cancelled', reason: 'Job was RUNNABLE for too long (cancelled by the job queue)' } }),
    'cancelled',
    /RUNNABLE for too long/,
  ],
  ['the launcher cancelled it without a reason', facts({ launcher: { state: 'cancelled' } }), 'cancelled', null],
  [
    "a job a SIGTERM'd Batch attempt left queued reads the retry running",
    facts({ status: status({ step: 200 }), launched: true, launcher: { state: 'running' } }),
    'running',
    null,
  ],
  [
    'the container exited 0 with no manifest: failed',
    facts({ status: running, launched: true, launcher: { state: 'succeeded' }, publishedVersion: null }),
    'failed',
    /exited without publishing/,
    (v) => assert.equal(v.finishedAt, SOON),
  ],
  [
    'the container exited 0 and a manifest names the job: succeeded with that version',
    facts({ status: running, launched: true, launcher: { state: 'succeeded' }, publishedVersion: 'v1' }),
    'succeeded',
    null,
    (v) => assert.deepEqual([v.adapterVersion, v.progress.fraction], ['v1', 1]),
  ],
  [
    'cancel requested: cancelled at the request, whatever the trainer wrote last',
    facts({ status: running, cancel }),
    'cancelled',
    null,
    (v) => assert.equal(v.finishedAt, cancel.requestedAt),
  ],
  [
    'cancel requested but the adapter was published first: succeeded (a version is never taken back)',
    facts({ status: running, cancel, publishedVersion: 'v2' }),
    'succeeded',
    null,
    (v) => assert.equal(v.adapterVersion, 'v2'),
  ],
  [
    'the trainer reported failed: final, the launcher is not asked',
    facts({ status: status({ state: 'failed', error: { message: 'bad rows' } }), launcher: { state: 'running' } }),
    'failed',
    /bad rows/,
  ],
  [
    'the trainer reported succeeded: final, even with a cancel record',
    facts({ status: status({ state: 'succeeded', adapterVersion: 'v3' }), cancel, publishedVersion: null }),
    'succeeded',
    null,
    (v) => assert.equal(v.adapterVersion, 'v3'),
  ],
  [
    'queued with no launch record past the grace: never launched, failed',
    facts({ launched: false, now: LATE }),
    'failed',
    /never launched/,
  ],
  ['queued with no launch record within the grace: queued', facts({ launched: false }), 'queued', null],
  ['queued, the launch record not read: no judgement', facts({ now: LATE }), 'queued', null],
];

for (const [name, f, state, error, more] of cases) {
  test(`jobView: ${name}`, () => {
    const v = jobView(f);
    assert.equal(v.status, state);
    if (error) assert.match(v.error?.message ?? '', error);
    else assert.equal(v.error, null);
    assert.doesNotThrow(() => JobSchema.parse(v), 'the view matches the response schema');
    more?.(v);
  });
}

test('jobView: a flagged status shows belowMajority; an unflagged one null', () => {
  const flag = belowMajority(
    { accuracy: 0.7, macroF1: 0.4, mcc: 0 },
    { label: 'pos', rate: 0.7, accuracy: 0.7, macroF1: 0.41, mcc: 0, examples: 10 },
    'accuracy',
  );
  assert.ok(flag);
  const done = status({ state: 'succeeded', adapterVersion: 'v' });
  const flagged = jobView(facts({ status: { ...done, belowMajority: flag } }));
  assert.deepEqual(flagged.belowMajority, flag);
  assert.deepEqual(JobSchema.parse(flagged).belowMajority, flag);
  assert.equal(jobView(facts({ status: done })).belowMajority, null);
});

const sweepSpec: JobSpec = { ...spec, hyperparameters: { lr: [0.1, 0.01], metric: 'f1' } };
const point = (i: number, over: Partial<Omit<PointStatus, 'format'>>): PointStatus => {
  const { format: _f, ...fields } = status();
  return { ...fields, format: 'adapter-store.point-status/v1', point: i, settings: { lr: i === 0 ? 0.1 : 0.01 }, ...over };
};

test("jobView of a sweep: running once a point started; progress is the points' (steps summed, fraction averaged)", () => {
  const v = jobView(facts({ spec: sweepSpec, points: [point(0, { state: 'running', step: 3, totalSteps: 4 }), null] }));
  assert.equal(v.status, 'running');
  assert.equal(v.sweep?.metric, 'f1');
  assert.deepEqual(
    v.sweep?.points.map((p) => [p.point, p.settings, p.status, p.progress.fraction]),
    [
      [0, { lr: 0.1 }, 'running', 0.75],
      [1, { lr: 0.01 }, 'queued', 0],
    ],
  );
  assert.deepEqual([v.progress.step, v.progress.totalSteps, v.progress.fraction], [3, 4, 0.375]);
  JobSchema.parse(v);
});

test('jobView of a sweep that ended other than succeeded ends its unfinished points with it; finished ones keep theirs', () => {
  const done = point(0, {
    state: 'succeeded',
    step: 4,
    totalSteps: 4,
    score: 0.9,
    best: { loss: 0.2, accuracy: 0.9, macroF1: 0.9, mcc: 0.8, examples: 10 },
  });
  const v = jobView(
    facts({ spec: sweepSpec, status: running, cancel, points: [done, point(1, { state: 'running', step: 1, totalSteps: 4 })] }),
  );
  assert.equal(v.status, 'cancelled');
  assert.deepEqual(
    v.sweep?.points.map((p) => [p.status, p.score, p.metrics?.accuracy ?? null]),
    [
      ['succeeded', 0.9, 0.9],
      ['cancelled', null, null],
    ],
  );
  // The sweep's default metric is the trainer's when the spec names none.
  assert.equal(jobView(facts({ spec: { ...sweepSpec, hyperparameters: { lr: [0.1, 0.01] } } })).sweep?.metric, 'accuracy');
});

test('which facts are worth reading: the launcher only for an unfinished, uncancelled job; manifests only where they can change the view', () => {
  assert.equal(factsToRead({ status: running, cancel: null }).launcher, true);
  assert.equal(factsToRead({ status: null, cancel: null }).launcher, true);
  assert.equal(factsToRead({ status: running, cancel }).launcher, false);
  assert.equal(factsToRead({ status: status({ state: 'failed' }), cancel: null }).launcher, false);
  assert.equal(publicationMatters({ status: running, cancel: null }), false);
  assert.equal(publicationMatters({ status: running, cancel }), true);
  assert.equal(publicationMatters({ status: running, cancel: null, launcher: { state: 'succeeded' } }), true);
  assert.equal(publicationMatters({ status: status({ state: 'cancelled' }), cancel: null }), true);
  assert.equal(publicationMatters({ status: status({ state: 'failed' }), cancel: null, launcher: { state: 'succeeded' } }), false);
  assert.equal(publicationMatters({ status: status({ state: 'succeeded' }), cancel }), false);
});

test('final states, and which jobs a runner should start again', () => {
  assert.deepEqual(['queued', 'running', 'succeeded', 'failed', 'cancelled'].map(isFinal), [false, false, true, true, true]);
  assert.equal(awaitsRunner(running, null), true);
  assert.equal(awaitsRunner(status(), null), true);
  assert.equal(awaitsRunner(running, cancel), false);
  assert.equal(awaitsRunner(status({ state: 'failed' }), null), false);
  assert.equal(awaitsRunner(null, null), false);
});
