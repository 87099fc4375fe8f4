/**
 * A job's objects over both stores: the index pages newest first; the cancel request is written once;
 * checkpoints go up as immutable folders behind a pointer; event pages append create-only and page in order.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type JobSpec, type PointStatus, queuedStatus } from '../../../shared/job.ts';
import { newJobEvent } from '../../../shared/job-events.ts';
import { RegistryError } from '../../../shared/registry/index.ts';
import { adapterDir, forEachStore } from '../../support/registry-stores.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const spec = (jobId: string, task: string, createdAt: string): JobSpec => ({
  format: 'adapter-store.job/v1',
  jobId,
  task,
  createdAt,
  datasetUri: 's3://d/x.jsonl',
  baseModel: 'b',
  hyperparameters: {},
});

forEachStore((get) => {
  test('the job index pages newest first, per task or all, one bounded listing a page', async () => {
    const { registry } = get();
    const at = (minute: number) => new Date(Date.UTC(2026, 10, 29, 12, minute)).toISOString();
    const jobs = [spec('ft-a', 'alpha', at(1)), spec('ft-b', 'beta', at(2)), spec('ft-c', 'alpha', at(3)), spec('ft-d', 'alpha', at(4))];
    jobs.push(spec('ft-e', 'beta', at(5)));
    // Written out of order: the index, not the write order, decides.
    for (const j of [jobs[2], jobs[0], jobs[4], jobs[1], jobs[3]]) await registry.jobs.create(j);
    const pages: string[][] = [];
    let after: string | undefined;
    for (;;) {
      const page = await registry.jobs.listIds({ limit: 2, after });
      pages.push(page.ids);
      if (!page.hasMore) break;
      after = page.ids.at(-1);
    }
    assert.deepEqual(pages, [['ft-e', 'ft-d'], ['ft-c', 'ft-b'], ['ft-a']]);
    assert.deepEqual(await registry.jobs.listIds({ task: 'alpha', limit: 10 }), { ids: ['ft-d', 'ft-c', 'ft-a'], hasMore: false });
    assert.deepEqual(await registry.jobs.listIds({ task: 'alpha', limit: 1, after: 'ft-d' }), { ids: ['ft-c'], hasMore: true });
    await assert.rejects(
      registry.jobs.listIds({ limit: 1, after: 'ft-nope' }),
      (e: unknown) => e instanceof RegistryError && e.code === 'not-found',
    );
    assert.deepEqual(await registry.jobs.spec('ft-a'), jobs[0]);
    await assert.rejects(registry.jobs.create(jobs[0]), (e: unknown) => e instanceof RegistryError && e.code === 'conflict');
  });

  test('status is rewritten, the cancel request written once, the launch record kept; ids are checked', async () => {
    const { registry } = get();
    await registry.jobs.create(spec('ft-s', 'alpha', new Date().toISOString()));
    assert.equal(await registry.jobs.status('ft-s'), null);
    const status = queuedStatus('ft-s', '2026-01-01T00:00:00.000Z');
    await registry.jobs.putStatus(status);
    await registry.jobs.putStatus({ ...status, state: 'running', step: 3 });
    assert.deepEqual(await registry.jobs.status('ft-s'), { ...status, state: 'running', step: 3 });
    assert.equal(await registry.jobs.cancelRequest('ft-s'), null);
    await registry.jobs.requestCancel('ft-s', { requestedAt: '2026-01-01T00:00:00.000Z' });
    await registry.jobs.requestCancel('ft-s', { requestedAt: '2026-02-02T00:00:00.000Z' }); // cancelled before: same outcome
    assert.deepEqual(await registry.jobs.cancelRequest('ft-s'), { requestedAt: '2026-01-01T00:00:00.000Z' });
    await registry.jobs.putLaunch('ft-s', { kind: 'local', pid: 12 });
    assert.deepEqual(await registry.jobs.launch('ft-s'), { kind: 'local', pid: 12 });
    await assert.rejects(registry.jobs.status('../ft-s'), (e: unknown) => e instanceof RegistryError && e.code === 'invalid');
  });

  test("a sweep point's status and staged adapter live beside the job's", async () => {
    const { registry, p } = get();
    const { format: _, ...progress } = queuedStatus('ft-sweep', '2026-01-01T00:00:00.000Z');
    const point: PointStatus = { ...progress, format: 'adapter-store.point-status/v1', point: 1, settings: { lr: 0.001 } };
    await registry.jobs.putPointStatus(point);
    assert.deepEqual(await registry.jobs.pointStatus('ft-sweep', 1), point);
    assert.equal(await registry.jobs.pointStatus('ft-sweep', 0), null);
    await registry.jobs.uploadPointAdapter('ft-sweep', 1, adapterDir(64));
    assert.deepEqual((await registry.list(`${p}jobs/ft-sweep/points/1/`)).keys.map((k) => k.key.slice(p.length)).sort(), [
      'jobs/ft-sweep/points/1/adapter/adapter.safetensors',
      'jobs/ft-sweep/points/1/adapter/adapter_config.json',
      'jobs/ft-sweep/points/1/adapter/metrics.json',
      'jobs/ft-sweep/points/1/status.json',
    ]);
    assert.equal(await registry.jobs.downloadPointAdapter('ft-sweep', 1, mkdtempSync(join(tmpdir(), 'registry-point-'))), 3);
    await assert.rejects(registry.jobs.pointStatus('ft-sweep', -1), (e: unknown) => e instanceof RegistryError && e.code === 'invalid');
  });

  test('checkpoints go up as immutable folders behind a pointer, come back as the pointer names, and the older goes', async () => {
    const { registry, p } = get();
    const dir = mkdtempSync(join(tmpdir(), 'registry-ckpt-'));
    const pointer = (step: number) => ({ format: 'adapter-store.checkpoint-pointer/v1' as const, folder: String(step), step });
    const checkpoint = (step: number) => {
      mkdirSync(join(dir, String(step)));
      writeFileSync(join(dir, String(step), 'tensors.safetensors'), randomBytes(5000));
      writeFileSync(join(dir, String(step), 'state.json'), `{"step": ${step}}`);
    };
    const keys = async () => (await registry.list(`${p}jobs/ft-ckpt/checkpoint/`)).keys.map((k) => k.key.slice(p.length)).sort();
    checkpoint(100);
    await registry.jobs.uploadCheckpoint('ft-ckpt', dir, pointer(100));
    // An upload of step 200 cut off after its first file: the pointer still names step 100, whole.
    const cut = mkdtempSync(join(tmpdir(), 'registry-ckpt-cut-'));
    mkdirSync(join(cut, '200'));
    writeFileSync(join(cut, '200', 'tensors.safetensors'), 'cut');
    await assert.rejects(registry.jobs.uploadCheckpoint('ft-ckpt', cut, pointer(200)));
    const before = mkdtempSync(join(tmpdir(), 'registry-ckpt-before-'));
    assert.deepEqual(await registry.jobs.downloadCheckpoint('ft-ckpt', before), pointer(100));
    assert.equal(readFileSync(join(before, '100', 'state.json'), 'utf8'), '{"step": 100}');
    // The next attempt writes step 200 over what the cut one left (never named by the pointer), then moves the pointer.
    checkpoint(200);
    await registry.jobs.uploadCheckpoint('ft-ckpt', dir, pointer(200));
    assert.deepEqual(await keys(), [
      'jobs/ft-ckpt/checkpoint/200/state.json',
      'jobs/ft-ckpt/checkpoint/200/tensors.safetensors',
      'jobs/ft-ckpt/checkpoint/latest.json',
    ]);
    const back = mkdtempSync(join(tmpdir(), 'registry-ckpt-back-'));
    assert.deepEqual(await registry.jobs.downloadCheckpoint('ft-ckpt', back), pointer(200));
    assert.equal(readFileSync(join(back, '200', 'state.json'), 'utf8'), '{"step": 200}');
    assert.equal(sha(readFileSync(join(back, '200', 'tensors.safetensors'))), sha(readFileSync(join(dir, '200', 'tensors.safetensors'))));
    assert.deepEqual(JSON.parse(readFileSync(join(back, 'latest.json'), 'utf8')), pointer(200));
    assert.equal(await registry.jobs.downloadCheckpoint('ft-none', mkdtempSync(join(tmpdir(), 'registry-ckpt-none-'))), null);
    await assert.rejects(
      registry.jobs.uploadCheckpoint('../x', dir, pointer(100)),
      (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
    );
    // A sweep point's checkpoints sit under its folder.
    await registry.jobs.uploadCheckpoint('ft-ckpt', dir, pointer(200), 3);
    assert.ok((await registry.list(`${p}jobs/ft-ckpt/points/3/checkpoint/`)).keys.some((k) => k.key.endsWith('/latest.json')));
  });

  test('job events: pages append create-only in order, two writers never collide, `after` pages through them', async () => {
    const { registry, p } = get();
    const ev = (i: number) => newJobEvent('warning', `event ${i}`, { reason: String(i) });
    const first = await registry.jobs.appendEvents('ev-job', [ev(0), ev(1), ev(2)], 0);
    assert.deepEqual(
      first.events.map((e) => e.id),
      ['00000000-0000', '00000000-0001', '00000000-0002'],
    );
    // A writer that thinks seq 0 is free (a stale hint) lands after the page that took it.
    assert.equal((await registry.jobs.appendEvents('ev-job', [ev(3)], 0)).seq, 1);
    // Two writers at once: both pages land, at distinct seqs.
    const racing = await Promise.all([registry.jobs.appendEvents('ev-job', [ev(4)]), registry.jobs.appendEvents('ev-job', [ev(5)])]);
    assert.deepEqual(racing.map((r) => r.seq).sort(), [2, 3]);
    const { keys } = await registry.list(`${p}jobs/ev-job/events/`);
    assert.deepEqual(
      keys.map((k) => k.key.slice(`${p}jobs/ev-job/events/`.length)),
      ['00000000.json', '00000001.json', '00000002.json', '00000003.json'],
    );
    assert.equal(await registry.jobs.nextEventSeq('ev-job'), 4);
    const all = await registry.jobs.listEvents('ev-job');
    assert.equal(all.hasMore, false);
    assert.equal(all.events.length, 6);
    assert.deepEqual(
      all.events.map((e) => e.id),
      all.events.map((e) => e.id).sort(),
    );
    // Pages of 2: every event once, in order, across page boundaries.
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await registry.jobs.listEvents('ev-job', { after, limit: 2 });
      seen.push(...page.events.map((e) => e.message));
      if (!page.hasMore) break;
      after = page.events.at(-1)!.id;
    }
    assert.deepEqual(
      seen,
      all.events.map((e) => e.message),
    );
    assert.deepEqual((await registry.jobs.listEvents('ev-job', { after: all.events.at(-1)!.id })).events, []);
    assert.deepEqual(await registry.jobs.listEvents('no-events'), { events: [], hasMore: false });
    await assert.rejects(
      registry.jobs.listEvents('ev-job', { after: '12' }),
      (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
    );
    await assert.rejects(registry.jobs.appendEvents('ev-job', []), (e: unknown) => e instanceof RegistryError && e.code === 'invalid');
  });
});
