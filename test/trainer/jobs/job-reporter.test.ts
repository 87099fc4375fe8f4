/**
 * JobReporter on a local registry: a job and a sweep point report the same way, each to its own place; a
 * succeeded status is final; an end writes its status and its event (failed, through the shared builder).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { queuedStatus } from '../../../shared/job.ts';
import { Registry } from '../../../shared/registry/index.ts';
import type { JobEvent } from '../../../shared/trainer-events.ts';
import { JobReporter, jobPlace } from '../../../trainer/jobs/job-reporter.ts';
import { pointPlace } from '../../../trainer/jobs/point-place.ts';

const registry = Registry.fromUri(pathToFileURL(join(mkdtempSync(join(tmpdir(), 'job-reporter-')), 'reg')).href);
const running = (jobId: string) => ({ ...queuedStatus(jobId, '2026-01-01T00:00:00.000Z'), state: 'running' as const });

test('a job: started, failed; the status says why and the log ends with the failed event', async () => {
  const logged: JobEvent[] = [];
  const r = new JobReporter({ registry, jobId: 'ft-r1', place: jobPlace, status: running('ft-r1'), log: (e) => logged.push(e) });
  await r.start();
  await r.end({ state: 'failed', message: 'rows are broken' });
  const status = await registry.jobs.status('ft-r1');
  assert.equal(status?.state, 'failed');
  assert.equal(status.error?.message, 'rows are broken');
  assert.ok(status.finishedAt);
  const events = (await registry.jobs.listEvents('ft-r1')).events;
  assert.deepEqual(
    events.map((e) => [e.type, e.level]),
    [
      ['running', 'info'],
      ['failed', 'error'],
    ],
  );
  assert.equal(events[1].type === 'failed' && events[1].data.reason, 'rows are broken');
  assert.deepEqual(logged, [], 'no write failed');
});

test('a succeeded status is final: a later update or end writes nothing', async () => {
  const r = new JobReporter({ registry, jobId: 'ft-r2', place: jobPlace, status: running('ft-r2'), log: () => {} });
  await r.succeed({ adapterVersion: 'v1' }, []);
  await r.update({ step: 99 }, true);
  await r.end({ state: 'queued' });
  const status = await registry.jobs.status('ft-r2');
  assert.deepEqual([status?.state, status?.adapterVersion, status?.step], ['succeeded', 'v1', 0]);
});

test("a point reports to points/<i>/status.json with its settings and result, and only its start and end in the job's log", async () => {
  const place = pointPlace(1, { lr: 0.01 });
  const r = new JobReporter({ registry, jobId: 'ft-r3', place, status: running('ft-r3'), log: () => {}, statusInterval: 0 });
  await r.start();
  // The trainer's own events are printed, not logged to the job (the points would interleave there).
  r.trainerEvent({ job: 'ft-r3', event: 'checkpoint-restored' });
  r.checkpointSaved(10);
  await r.succeed({ score: 0.75, seeds: [{ seed: 1, score: 0.75 }] }, []);
  const point = await registry.jobs.pointStatus('ft-r3', 1);
  assert.deepEqual(
    [point?.format, point?.point, point?.settings, point?.state, point?.score],
    ['adapter-store.point-status/v1', 1, { lr: 0.01 }, 'succeeded', 0.75],
  );
  assert.equal(await registry.jobs.status('ft-r3'), null, "the job's own status is not the point's to write");
  const types = (await registry.jobs.listEvents('ft-r3')).events.map((e) => e.type);
  assert.deepEqual(types, ['point-started']);
  // A point's cancel or return to the queue is the sweep's to log; its failure is logged as its end.
  assert.equal(place.ended({ state: 'cancelled' }), null);
  assert.equal(place.ended({ state: 'queued' }), null);
  assert.match(place.ended({ state: 'failed', message: 'oops' })?.message ?? '', /^point 1 \(lr=0.01\) failed: oops$/);
});
