/**
 * run-job's event log writes bounded: a job of K steps costs about K / (metrics interval x page size)
 * objects, not K, each page written once; pages also go out when their oldest event is old enough, and
 * a failed write keeps its events for the next flush.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { newJobEvent } from '../../../shared/job-events.ts';
import { Registry, RegistryError } from '../../../shared/registry/index.ts';
import type { StepEvent } from '../../../shared/trainer-events.ts';
import { JobEventLog } from '../../../trainer/jobs/event-log.ts';
import { TrainerEventMapper } from '../../../trainer/jobs/job-events.ts';

const registry = () => Registry.fromUri(pathToFileURL(join(mkdtempSync(join(tmpdir(), 'event-log-')), 'registry')).href);

function step(step: number, totalSteps: number, loss: number): StepEvent {
  return { event: 'step', seed: 42, step, totalSteps, epoch: 1, epochs: 1, loss, lr: 1e-3, gradNorm: 1, examples: 8, seconds: 0.5 };
}

test('K steps write about K / (N x page size) pages, each once, holding every metrics event in order', async () => {
  for (const K of [1000, 4000]) {
    const reg = registry();
    const mapper = new TrainerEventMapper(10);
    const errors: Error[] = [];
    const log = new JobEventLog({ registry: reg, jobId: 'job', maxEvents: 50, intervalMs: 60_000, onError: (e) => errors.push(e) });
    for (let s = 1; s <= K; s++) for (const e of mapper.map(step(s, K, 1 / s))) log.add(e);
    await log.flush();
    const { keys } = await reg.list('jobs/job/events/');
    const metrics = K / 10 + 1; // every 10th step, and step 1
    assert.equal(keys.length, Math.ceil(metrics / 50), `K=${K}: pages`);
    assert.ok(keys.length < K / 100, `K=${K}: ${keys.length} objects for ${K} steps`);
    const { events } = await reg.jobs.listEvents('job');
    assert.equal(events.length, metrics);
    assert.deepEqual(
      events.map((e) => (e.type === 'metrics' ? e.data.step : -1)),
      [1, ...Array.from({ length: K / 10 }, (_, i) => (i + 1) * 10)],
    );
    assert.deepEqual(errors, []);
  }
});

test('a metrics event carries the mean loss and the throughput of its window', () => {
  const mapper = new TrainerEventMapper(4);
  assert.equal(mapper.map(step(1, 8, 9)).length, 1, 'the first step opens the curve');
  const out = [2, 3, 4].flatMap((s) => mapper.map(step(s, 8, s)));
  assert.equal(out.length, 1);
  const e = out[0];
  assert.ok(e.type === 'metrics');
  assert.equal(e.data.loss, 3); // mean of 2, 3, 4
  assert.equal(e.data.steps, 3);
  assert.equal(e.data.examplesPerSecond, 16); // 8 examples in 0.5 s per step
  assert.equal(mapper.map(step(8, 8, 1)).length, 1, 'the last step closes it');
});

test('a checkpoint-saved event carries the step and the latest loss and evaluation before it', () => {
  const mapper = new TrainerEventMapper(2);
  mapper.map(step(1, 4, 3));
  mapper.map(step(2, 4, 1));
  const before = mapper.checkpointSaved(2);
  assert.ok(before.type === 'checkpoint-saved');
  assert.deepEqual(before.data, { seed: 42, step: 2, trainLoss: 1, validation: null });
  const v = { loss: 0.5, accuracy: 0.75, macroF1: 0.7, mcc: 0.4, examples: 20 };
  mapper.map({ event: 'validation', seed: 42, step: 2, epoch: 1, metric: 'accuracy', score: 0.75, improved: true, ...v });
  const after = mapper.checkpointSaved(2);
  assert.ok(after.type === 'checkpoint-saved');
  assert.deepEqual(after.data.validation, v);
});

test('a page goes out once its oldest event is old enough, without filling', async () => {
  const reg = registry();
  let clock = 0;
  const log = new JobEventLog({ registry: reg, jobId: 'job', maxEvents: 100, intervalMs: 1000, now: () => clock, onError: assert.fail });
  log.add(newJobEvent('warning', 'a', { reason: 'a' }));
  clock = 500;
  log.add(newJobEvent('warning', 'b', { reason: 'b' }));
  await new Promise((r) => setImmediate(r));
  assert.equal((await reg.list('jobs/job/events/')).keys.length, 0, 'young: still buffered');
  clock = 1000;
  log.add(newJobEvent('warning', 'c', { reason: 'c' }));
  await log.flush();
  const { events } = await reg.jobs.listEvents('job');
  assert.deepEqual(
    events.map((e) => e.message),
    ['a', 'b', 'c'],
  );
  assert.equal((await reg.list('jobs/job/events/')).keys.length, 1);
});

test('a failed write keeps its events: the next flush writes them, in order', async () => {
  const reg = registry();
  const real = reg.jobs.appendEvents.bind(reg.jobs);
  let fail = true;
  reg.jobs.appendEvents = (...args) => (fail ? Promise.reject(new RegistryError('store down', 'storage')) : real(...args));
  const errors: string[] = [];
  const log = new JobEventLog({ registry: reg, jobId: 'job', onError: (e) => errors.push(e.message) });
  log.add(newJobEvent('warning', 'a', { reason: 'a' }));
  await log.flush();
  assert.deepEqual(errors, ['store down']);
  fail = false;
  log.add(newJobEvent('warning', 'b', { reason: 'b' }));
  await log.flush();
  assert.deepEqual(
    (await reg.jobs.listEvents('job')).events.map((e) => e.message),
    ['a', 'b'],
  );
});
