/**
 * runJob is library code: a caller stops it with an AbortSignal and reads how it ended from the outcome
 * (trainer/cli.ts turns signals into the abort and the outcome into an exit code). In-process, on a local
 * registry: what each stop reason leaves in status.json and the event log, and that the run returns.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Registry } from '../../../shared/registry/index.ts';
import type { JobEvent } from '../../../shared/trainer-events.ts';
import { type StopReason, stopEnd, stopReasonOf } from '../../../trainer/jobs/job-outcome.ts';
import { runJob } from '../../../trainer/jobs/run-job.ts';
import { TOY_JSONL, writeTinyBert } from '../../support/tiny-bert.ts';

const work = mkdtempSync(join(tmpdir(), 'run-job-abort-'));
const registry = Registry.fromUri(pathToFileURL(join(work, 'abort-registry')).href);
let datasetUri = '';

before(async () => {
  const base = join(work, 'tiny');
  writeTinyBert(base, { numLayers: 1 });
  await registry.models.upload('tiny', base, ['config.json', 'model.safetensors', 'vocab.txt']);
  const rows = Buffer.from(TOY_JSONL.repeat(5));
  datasetUri = await registry.datasets.put('toy.jsonl', createHash('sha256').update(rows).digest('hex'), rows);
});

/** Runs job `jobId` (long enough never to finish here), aborting with `reason` at its second step (or before it starts). */
async function stopped(jobId: string, reason: StopReason, when: 'at-step-2' | 'before-start') {
  await registry.jobs.create({
    format: 'adapter-store.job/v1',
    jobId,
    task: 'toy',
    datasetUri,
    baseModel: 'tiny',
    createdAt: new Date().toISOString(),
    hyperparameters: { epochs: 50, batchSize: 2, bottleneck: 2 },
  });
  const controller = new AbortController();
  if (when === 'before-start') controller.abort(reason);
  const log = (e: JobEvent) => {
    if (e.event === 'step' && e.step === 2) controller.abort(reason);
  };
  const outcome = await runJob({ registry, jobId, device: 'cpu', threads: 1, statusInterval: 0, log }, controller.signal);
  const status = await registry.jobs.status(jobId);
  const types = (await registry.jobs.listEvents(jobId)).events.map((e) => e.type);
  return { outcome, status, types };
}

test('its server gone (stdin closed), a run stops at its next step and leaves the job queued to resume', async () => {
  const { outcome, status, types } = await stopped('ft-gone', { kind: 'runner-gone' }, 'at-step-2');
  assert.equal(outcome.kind, 'stopped');
  assert.deepEqual(outcome.kind === 'stopped' && outcome.end, { state: 'queued' });
  assert.equal(status?.state, 'queued');
  assert.ok((status?.step ?? 0) >= 2 && (status?.step ?? 0) < status!.totalSteps, `stopped early, at step ${status?.step}`);
  assert.deepEqual(types.slice(0, 2), ['running', 'training-started']);
  assert.equal(types.at(-1), 'queued');
});

test('SIGINT before the run starts: it fails saying so, without training', async () => {
  const { outcome, status, types } = await stopped('ft-int', { kind: 'signal', signal: 'SIGINT', batchAttempt: false }, 'before-start');
  assert.equal(outcome.kind, 'stopped');
  assert.equal(status?.state, 'failed');
  assert.match(status?.error?.message ?? '', /interrupted by SIGINT/);
  assert.deepEqual(types, ['running', 'failed']);
});

test('a cancel recorded by the API turns any stop into cancelled', async () => {
  await registry.jobs.requestCancel('ft-cancel', { requestedAt: new Date().toISOString() });
  const { outcome, status, types } = await stopped('ft-cancel', { kind: 'signal', signal: 'SIGTERM', batchAttempt: true }, 'at-step-2');
  assert.equal(outcome.kind, 'stopped');
  assert.equal(status?.state, 'cancelled');
  assert.equal(types.at(-1), 'cancelled');
});

test('what a stop records: queued where a retry or the server resumes it, else failed with the signal', () => {
  const term = (batchAttempt: boolean): StopReason => ({ kind: 'signal', signal: 'SIGTERM', batchAttempt });
  assert.deepEqual(stopEnd({ kind: 'runner-gone' }, false), { state: 'queued' });
  assert.deepEqual(stopEnd(term(true), true), { state: 'queued' }, "a plain job's Batch attempt");
  assert.match(JSON.stringify(stopEnd(term(true), false)), /"failed".*interrupted by SIGTERM/, "a sweep point's Batch attempt");
  assert.match(JSON.stringify(stopEnd(term(false), true)), /"failed".*interrupted by SIGTERM/, 'run by hand');
  // An abort without a StopReason (a caller's plain controller.abort()) reads as an interruption.
  const plain = new AbortController();
  plain.abort();
  assert.deepEqual(stopReasonOf(plain.signal), term(false));
});
