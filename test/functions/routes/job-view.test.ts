/** GET /finetune/:jobId: what jobView makes of status.json and the launcher (the majority guardrail, a Batch attempt left queued). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobView } from '../../../functions/routes/finetune.ts';
import { JobSchema } from '../../../functions/schemas.ts';
import { type JobSpec, queuedStatus } from '../../../shared/job.ts';
import { belowMajority } from '../../../shared/majority-baseline.ts';

const spec: JobSpec = {
  format: 'adapter-store.job/v1',
  jobId: 'ft-view',
  task: 'toy',
  datasetUri: 's3://bucket/toy.jsonl',
  baseModel: 'tiny',
  hyperparameters: {},
  createdAt: '2026-01-01T00:00:00.000Z',
};

test('a flagged status shows as belowMajority; an unflagged one as null; both match the response schema', () => {
  const flag = belowMajority(
    { accuracy: 0.7, macroF1: 0.4, mcc: 0 },
    { label: 'pos', rate: 0.7, accuracy: 0.7, macroF1: 0.41, mcc: 0, examples: 10 },
    'accuracy',
  );
  assert.ok(flag);
  const base = { ...queuedStatus('ft-view', spec.createdAt), state: 'succeeded' as const, adapterVersion: 'v' };
  const flagged = jobView(spec, { ...base, belowMajority: flag });
  assert.deepEqual(flagged.belowMajority, flag);
  assert.deepEqual(JobSchema.parse(flagged).belowMajority, flag);
  const clean = jobView(spec, base);
  assert.equal(clean.belowMajority, null);
  assert.equal(JobSchema.parse(clean).belowMajority, null);
});

test("a job a SIGTERM'd Batch attempt left queued reads Batch's end: running while a retry runs, failed with Batch's reason if none follows", () => {
  const left = { ...queuedStatus('ft-view', spec.createdAt), step: 200 };
  assert.equal(jobView(spec, left, { state: 'running' }).status, 'running');
  const ended = jobView(spec, left, { state: 'failed', reason: 'Host EC2 (instance i-1) terminated.' });
  assert.equal(ended.status, 'failed');
  assert.match(ended.error?.message ?? '', /Host EC2/);
});
