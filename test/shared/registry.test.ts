/**
 * The registry over both object stores (S3 through an S3-compatible server, under a key prefix; and a
 * local directory), the same tests for each: objects over the multipart threshold go up (in parts on
 * S3, where the test server refuses single requests over 11 MiB) and read back byte for byte;
 * immutability holds; datasets are content-addressed; the job index pages newest first; checkpoints
 * and adapter files go through the registry; manifests are cached once read.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { newJobEvent } from '../../shared/job-events.ts';
import { readAll } from '../../shared/object-store.ts';
import {
  MAX_VERSION_CLOCK_SKEW_MS,
  MULTIPART_THRESHOLD,
  newVersionId,
  Registry,
  RegistryError,
  versionTime,
} from '../../shared/registry.ts';
import { type S3TestServer, startS3Server } from '../support/s3-server.ts';

let s3: S3TestServer;
after(async () => {
  await s3?.stop();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function adapterDir(bytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'registry-adapter-'));
  writeFileSync(join(dir, 'adapter.safetensors'), randomBytes(bytes));
  writeFileSync(join(dir, 'adapter_config.json'), '{}');
  writeFileSync(join(dir, 'metrics.json'), '{}');
  return dir;
}

const META = {
  jobId: null,
  baseModel: { name: 'big-model', weightsSha256: 'ab'.repeat(32) },
  mode: 'adapter' as const,
  labels: ['a', 'b'],
  parameters: { trainable: 1, total: 2 },
  metrics: null,
};

function contract(name: string, open: () => Promise<Registry>): void {
  describe(name, () => {
    let registry: Registry;
    let p: string; // the registry's key prefix
    before(async () => {
      registry = await open();
      p = registry.prefix;
    });

    test('a base model larger than one request goes up in parts and downloads identical', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'registry-'));
      const weights = randomBytes(MULTIPART_THRESHOLD + 5 * 1024 * 1024 + 3); // > 11 MiB: one PUT would be refused
      writeFileSync(join(dir, 'model.safetensors'), weights);
      writeFileSync(join(dir, 'config.json'), '{}');
      await registry.uploadModel('big-model', dir, ['config.json', 'model.safetensors']);
      const listed = await registry.list(`${p}models/big-model/`);
      assert.deepEqual(
        listed.keys.map((k) => [k.key, k.size]),
        [
          [`${p}models/big-model/config.json`, 2],
          [`${p}models/big-model/model.safetensors`, weights.length],
        ],
      );
      const out = mkdtempSync(join(tmpdir(), 'registry-out-'));
      await registry.downloadModel('big-model', out);
      assert.equal(sha(readFileSync(join(out, 'model.safetensors'))), sha(weights));
    });

    test('datasets are content-addressed and immutable; names are checked', async () => {
      const body = Buffer.from('{"text":"x","label":1}\n');
      const uri = await registry.putDataset('d.jsonl', sha(body), body);
      assert.equal(uri, `s3://registry/${p}datasets/${sha(body).slice(0, 16)}/d.jsonl`);
      assert.equal(await registry.putDataset('d.jsonl', sha(body), body), uri, 'the same bytes again: same URI');
      await assert.rejects(
        registry.putDataset('../d.jsonl', sha(body), body),
        (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
      );
      await assert.rejects(
        registry.putDataset('d.jsonl', 'nothex', body),
        (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
      );
      assert.match(registry.newDatasetUploadKey('big.csv'), new RegExp(`^${p}datasets/uploads/\\d{8}T\\d{9}Z-[0-9a-f]{16}/big\\.csv$`));
    });

    test('a multipart immutable write never overwrites: the version manifest stays', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'registry-adapter-'));
      writeFileSync(join(dir, 'adapter.safetensors'), randomBytes(MULTIPART_THRESHOLD + 1024));
      writeFileSync(join(dir, 'adapter_config.json'), '{}');
      writeFileSync(join(dir, 'metrics.json'), '{}');
      const meta = { task: 'big', ...META };
      const version = '20250101T000000000Z-00000000000000aa';
      const first = await registry.publishAdapter(dir, meta, version);
      writeFileSync(join(dir, 'adapter.safetensors'), randomBytes(MULTIPART_THRESHOLD + 1024));
      await assert.rejects(
        registry.publishAdapter(dir, meta, version),
        (e: unknown) => e instanceof RegistryError && e.code === 'conflict',
      );
      assert.deepEqual(await registry.getManifest('big', version), first);
    });

    test('the job index pages newest first, per task or all, one bounded listing a page', async () => {
      const at = (minute: number) => new Date(Date.UTC(2026, 10, 29, 12, minute)).toISOString();
      const jobs = [
        { jobId: 'ft-a', task: 'alpha', createdAt: at(1) },
        { jobId: 'ft-b', task: 'beta', createdAt: at(2) },
        { jobId: 'ft-c', task: 'alpha', createdAt: at(3) },
        { jobId: 'ft-d', task: 'alpha', createdAt: at(4) },
        { jobId: 'ft-e', task: 'beta', createdAt: at(5) },
      ];
      // Written out of order: the index, not the write order, decides.
      for (const j of [jobs[2], jobs[0], jobs[4], jobs[1], jobs[3]]) {
        await registry.putJobSpec({
          format: 'adapter-store.job/v1',
          ...j,
          datasetUri: 's3://d/x.jsonl',
          baseModel: 'b',
          hyperparameters: {},
        });
      }
      const pages: string[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await registry.listJobIds({ limit: 2, after });
        pages.push(page.ids);
        if (!page.hasMore) break;
        after = page.ids.at(-1);
      }
      assert.deepEqual(pages, [['ft-e', 'ft-d'], ['ft-c', 'ft-b'], ['ft-a']]);
      assert.deepEqual(await registry.listJobIds({ task: 'alpha', limit: 10 }), { ids: ['ft-d', 'ft-c', 'ft-a'], hasMore: false });
      assert.deepEqual(await registry.listJobIds({ task: 'alpha', limit: 1, after: 'ft-d' }), { ids: ['ft-c'], hasMore: true });
      await assert.rejects(
        registry.listJobIds({ limit: 1, after: 'ft-nope' }),
        (e: unknown) => e instanceof RegistryError && e.code === 'not-found',
      );
    });

    test('a base model exists only once its weights are up: an interrupted upload can be retried, a complete one never replaced', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'registry-partial-'));
      writeFileSync(join(dir, 'config.json'), '{}');
      writeFileSync(join(dir, 'vocab.txt'), '[PAD]\n');
      // The weights file is missing: the upload fails after the other files went up.
      await assert.rejects(registry.uploadModel('partial', dir, ['config.json', 'vocab.txt', 'model.safetensors']));
      assert.equal(await registry.modelExists('partial'), false, 'no weights, no model');
      writeFileSync(join(dir, 'model.safetensors'), 'weights');
      await registry.uploadModel('partial', dir, ['config.json', 'vocab.txt', 'model.safetensors']);
      assert.equal(await registry.modelExists('partial'), true);
      await assert.rejects(
        registry.uploadModel('partial', dir, ['config.json', 'vocab.txt', 'model.safetensors']),
        (e: unknown) => e instanceof RegistryError && e.code === 'conflict',
      );
    });

    test('checkpoints go up as immutable folders behind a pointer, come back as the pointer names, and the older goes', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'registry-ckpt-'));
      const pointer = (step: number) => ({ format: 'adapter-store.checkpoint-pointer/v1' as const, folder: String(step), step });
      const checkpoint = (step: number) => {
        mkdirSync(join(dir, String(step)));
        writeFileSync(join(dir, String(step), 'tensors.safetensors'), randomBytes(5000));
        writeFileSync(join(dir, String(step), 'state.json'), `{"step": ${step}}`);
      };
      const keys = async () => (await registry.list(`${p}jobs/ft-ckpt/checkpoint/`)).keys.map((k) => k.key.slice(p.length)).sort();
      checkpoint(100);
      await registry.uploadCheckpoint('ft-ckpt', dir, pointer(100));
      // An upload of step 200 cut off after its first file: the pointer still names step 100, whole.
      const cut = mkdtempSync(join(tmpdir(), 'registry-ckpt-cut-'));
      mkdirSync(join(cut, '200'));
      writeFileSync(join(cut, '200', 'tensors.safetensors'), 'cut');
      await assert.rejects(registry.uploadCheckpoint('ft-ckpt', cut, pointer(200)));
      const before = mkdtempSync(join(tmpdir(), 'registry-ckpt-before-'));
      assert.deepEqual(await registry.downloadCheckpoint('ft-ckpt', before), pointer(100));
      assert.equal(readFileSync(join(before, '100', 'state.json'), 'utf8'), '{"step": 100}');
      // The next attempt writes step 200 over what the cut one left (never named by the pointer), then moves the pointer.
      checkpoint(200);
      await registry.uploadCheckpoint('ft-ckpt', dir, pointer(200));
      assert.deepEqual(await keys(), [
        'jobs/ft-ckpt/checkpoint/200/state.json',
        'jobs/ft-ckpt/checkpoint/200/tensors.safetensors',
        'jobs/ft-ckpt/checkpoint/latest.json',
      ]);
      const back = mkdtempSync(join(tmpdir(), 'registry-ckpt-back-'));
      assert.deepEqual(await registry.downloadCheckpoint('ft-ckpt', back), pointer(200));
      assert.equal(readFileSync(join(back, '200', 'state.json'), 'utf8'), '{"step": 200}');
      assert.equal(sha(readFileSync(join(back, '200', 'tensors.safetensors'))), sha(readFileSync(join(dir, '200', 'tensors.safetensors'))));
      assert.deepEqual(JSON.parse(readFileSync(join(back, 'latest.json'), 'utf8')), pointer(200));
      assert.equal(await registry.downloadCheckpoint('ft-none', mkdtempSync(join(tmpdir(), 'registry-ckpt-none-'))), null);
      await assert.rejects(
        registry.uploadCheckpoint('../x', dir, pointer(100)),
        (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
      );
    });

    test("a job's published version is found again (a job run again after it published does not publish twice)", async () => {
      const since = new Date().toISOString();
      const mine = await registry.publishAdapter(adapterDir(100), { ...META, task: 'once', jobId: 'ft-once' });
      await registry.publishAdapter(adapterDir(100), { ...META, task: 'once', jobId: 'ft-other' });
      assert.equal((await registry.findJobVersion('once', 'ft-once', since))?.version, mine.version);
      assert.equal(await registry.findJobVersion('once', 'ft-none', since), null);
      // Versions made before the job was created (less an hour for clocks) are not read.
      assert.equal(await registry.findJobVersion('once', 'ft-once', new Date(Date.now() + 2 * 3600_000).toISOString()), null);
    });

    test('adapter files stream from the registry; tasks list only visible versions; manifests are cached once read', async () => {
      const dir = adapterDir(4096);
      const manifest = await registry.publishAdapter(dir, { ...META, task: 'streamed' });
      const body = await registry.openAdapterFile('streamed', manifest.version, 'adapter.safetensors');
      assert.equal(body?.size, 4096);
      assert.equal(sha(await readAll(body!)), manifest.files[0].sha256);
      assert.equal(await registry.openAdapterFile('streamed', manifest.version, 'nope.bin'), null);
      assert.ok((await registry.listTasks({ limit: 100 })).tasks.includes('streamed'));
      const first = await registry.getManifest('streamed', manifest.version);
      assert.deepEqual(first, manifest);
      assert.equal(await registry.getManifest('streamed', manifest.version), first, 'the same object: served from memory');
      assert.equal(await registry.getManifest('streamed', '20250101T000000000Z-00000000000000ff'), null);
    });

    test('a version dated beyond the clock skew is never visible and never published (it would be "newest" forever)', async () => {
      const now = await registry.publishAdapter(adapterDir(8), { ...META, task: 'clock' });
      const future = '29990101T000000000Z-00000000000000aa';
      const soon = newVersionId(new Date(Date.now() + MAX_VERSION_CLOCK_SKEW_MS / 2)); // within the skew: fine
      for (const v of [future, soon]) {
        await registry.store.put(`${p}adapters/clock/${v}/manifest.json`, JSON.stringify({ ...now, version: v }));
        await registry.store.put(
          `${p}adapters/only-future/${v === future ? v : future}/manifest.json`,
          JSON.stringify({ ...now, task: 'only-future', version: future }),
        );
      }
      assert.deepEqual(await registry.listVersions('clock'), [soon, now.version]);
      assert.equal(await registry.getManifest('clock', future), null);
      assert.deepEqual(await registry.listVersions('only-future'), []);
      assert.ok(!(await registry.listTasks({ limit: 100 })).tasks.includes('only-future'));
      await assert.rejects(
        registry.publishAdapter(adapterDir(8), { ...META, task: 'clock' }, '29990101T000000000Z-00000000000000bb'),
        (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
      );
      assert.equal(versionTime('20260102T030405006Z-0000000000000000'), Date.UTC(2026, 0, 2, 3, 4, 5, 6));
    });

    test('a manifest that is not JSON, or names another version or task, is corrupt: refused, never served', async () => {
      const good = await registry.publishAdapter(adapterDir(8), { ...META, task: 'mangled' });
      const v1 = '20250101T000000000Z-0000000000000001';
      const v2 = '20250101T000000000Z-0000000000000002';
      const v3 = '20250101T000000000Z-0000000000000003';
      await registry.store.put(`${p}adapters/mangled/${v1}/manifest.json`, '{"version": ');
      await registry.store.put(`${p}adapters/mangled/${v2}/manifest.json`, JSON.stringify({ ...good, version: good.version }));
      await registry.store.put(`${p}adapters/mangled/${v3}/manifest.json`, JSON.stringify({ ...good, version: v3, task: 'other' }));
      for (const v of [v1, v2, v3]) {
        await assert.rejects(registry.getManifest('mangled', v), (e: unknown) => e instanceof RegistryError && e.code === 'corrupt', v);
      }
      assert.deepEqual(await registry.getManifest('mangled', good.version), good);
    });

    test('tasks list a page at a time, in name order, each once', async () => {
      for (const t of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'])
        await registry.publishAdapter(adapterDir(8), { ...META, task: t });
      const all = (await registry.listTasks({ limit: 100 })).tasks;
      assert.deepEqual(all, [...all].sort());
      const paged: string[] = [];
      let after: string | undefined;
      for (let pages = 0; ; pages++) {
        assert.ok(pages < 100, 'paging ends');
        const page = await registry.listTasks({ limit: 2, after });
        assert.ok(page.tasks.length <= 2);
        paged.push(...page.tasks);
        if (!page.hasMore) break;
        after = page.tasks[page.tasks.length - 1];
      }
      assert.deepEqual(paged, all);
      for (const t of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) assert.ok(all.includes(t), t);
      assert.deepEqual((await registry.listTasks({ limit: 100, after: 'page-c' })).tasks.slice(0, 2), ['page-d', 'page-e']);
    });

    test('job events: pages append create-only in order, two writers never collide, `after` pages through them', async () => {
      const ev = (i: number) => newJobEvent('warning', `event ${i}`, { reason: String(i) });
      const first = await registry.appendJobEvents('ev-job', [ev(0), ev(1), ev(2)], 0);
      assert.deepEqual(
        first.events.map((e) => e.id),
        ['00000000-0000', '00000000-0001', '00000000-0002'],
      );
      // A writer that thinks seq 0 is free (a stale hint) lands after the page that took it.
      assert.equal((await registry.appendJobEvents('ev-job', [ev(3)], 0)).seq, 1);
      // Two writers at once: both pages land, at distinct seqs.
      const racing = await Promise.all([registry.appendJobEvents('ev-job', [ev(4)]), registry.appendJobEvents('ev-job', [ev(5)])]);
      assert.deepEqual(racing.map((r) => r.seq).sort(), [2, 3]);
      const { keys } = await registry.list(`${p}jobs/ev-job/events/`);
      assert.deepEqual(
        keys.map((k) => k.key.slice(`${p}jobs/ev-job/events/`.length)),
        ['00000000.json', '00000001.json', '00000002.json', '00000003.json'],
      );
      const all = await registry.listJobEvents('ev-job');
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
        const page = await registry.listJobEvents('ev-job', { after, limit: 2 });
        seen.push(...page.events.map((e) => e.message));
        if (!page.hasMore) break;
        after = page.events.at(-1)!.id;
      }
      assert.deepEqual(
        seen,
        all.events.map((e) => e.message),
      );
      assert.deepEqual((await registry.listJobEvents('ev-job', { after: all.events.at(-1)!.id })).events, []);
      assert.deepEqual(await registry.listJobEvents('no-events'), { events: [], hasMore: false });
      await assert.rejects(
        registry.listJobEvents('ev-job', { after: '12' }),
        (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
      );
      await assert.rejects(registry.appendJobEvents('ev-job', []), (e: unknown) => e instanceof RegistryError && e.code === 'invalid');
    });

    test('dataset URIs: s3://<bucket>/<key>, read back through readableDatasetUri; signed uploads land once at their key', async () => {
      const body = Buffer.from('{"text":"x","label":1}\n');
      const uri = await registry.putDataset('r.jsonl', sha(body), body);
      const readable = registry.readableDatasetUri(uri);
      if (readable.startsWith('file:')) assert.equal(readFileSync(new URL(readable), 'utf8'), body.toString());
      else assert.equal(readable, uri);
      assert.equal(registry.readableDatasetUri('s3://other-bucket/x.jsonl'), 's3://other-bucket/x.jsonl');
      const key = registry.newDatasetUploadKey('up.jsonl');
      assert.equal(await registry.putDatasetUpload(key, Readable.from([body]), body.length), registry.uriOf(key));
      await assert.rejects(
        registry.putDatasetUpload(key, Readable.from([body]), body.length),
        (e: unknown) => e instanceof RegistryError && e.code === 'conflict',
      );
      await assert.rejects(
        registry.putDatasetUpload(`${p}adapters/x/y`, Readable.from([body]), body.length),
        (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
      );
    });
  });
}

contract('on S3, under a key prefix', async () => {
  s3 = await startS3Server();
  await s3.createBucket('registry');
  return Registry.fromUri('s3://registry/store', s3.client);
});

contract('in a local directory', async () =>
  Registry.fromUri(pathToFileURL(join(mkdtempSync(join(tmpdir(), 'registry-')), 'registry')).href),
);

test('registry URIs: s3:// and file:// are accepted, anything else is a precise error', () => {
  assert.equal(Registry.fromUri('file:///tmp/stores/adapter-store').uri, 'file:///tmp/stores/adapter-store');
  assert.equal(Registry.fromUri('file:///tmp/stores/adapter-store').location.bucket, 'adapter-store');
  for (const bad of ['http://x/y', 's3://', 's3://UPPER', 'file:///tmp/NotABucket', 'registry']) {
    assert.throws(
      () => Registry.fromUri(bad),
      (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
      bad,
    );
  }
});

test('a local registry names what is missing or taken by s3:// URI, never by its directory (failed-job and 409 details)', async () => {
  const root = join(mkdtempSync(join(tmpdir(), 'registry-paths-')), 'adapter-store');
  const local = Registry.fromUri(pathToFileURL(root).href);
  const messageOf = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return (err as Error).message;
    }
    assert.fail('expected a rejection');
  };
  const messages = [
    await messageOf(local.downloadModel('nope', join(root, '..', 'work'))),
    await messageOf(local.getJobSpec('ft-missing')),
    await messageOf(Promise.resolve().then(() => local.presignGet('models/x', 60))),
  ];
  assert.deepEqual(messages, [
    'base model "nope" not found in s3://adapter-store/models/',
    'job "ft-missing" has no spec at s3://adapter-store/jobs/ft-missing/spec.json',
    's3://adapter-store/ cannot presign URLs (only an S3 registry can)',
  ]);
  for (const m of messages) assert.ok(!m.includes(root) && !m.includes('file:'), m);
});
