/**
 * Adapter versions over both stores (immutable, visible once the manifest is written, a corrupt or
 * future-dated manifest never served), and latest(task): the newest sound manifest, remembered for a short
 * TTL, counted on a real local store wrapped to count its calls.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { FileObjectStore } from '../../../shared/file-object-store.ts';
import { readAll } from '../../../shared/object-store.ts';
import {
  MAX_VERSION_CLOCK_SKEW_MS,
  MULTIPART_THRESHOLD,
  newVersionId,
  Registry,
  RegistryError,
  versionTime,
} from '../../../shared/registry/index.ts';
import { CountingStore } from '../../support/counting-store.ts';
import { adapterDir, forEachStore, ADAPTER_META as META } from '../../support/registry-stores.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

forEachStore((get) => {
  test('a multipart immutable write never overwrites: the version manifest stays', async () => {
    const { registry } = get();
    const dir = mkdtempSync(join(tmpdir(), 'registry-adapter-'));
    writeFileSync(join(dir, 'adapter.safetensors'), randomBytes(MULTIPART_THRESHOLD + 1024));
    writeFileSync(join(dir, 'adapter_config.json'), '{}');
    writeFileSync(join(dir, 'metrics.json'), '{}');
    const meta = { task: 'big', ...META };
    const version = '20250101T000000000Z-00000000000000aa';
    const first = await registry.adapters.publish(dir, meta, version);
    writeFileSync(join(dir, 'adapter.safetensors'), randomBytes(MULTIPART_THRESHOLD + 1024));
    await assert.rejects(
      registry.adapters.publish(dir, meta, version),
      (e: unknown) => e instanceof RegistryError && e.code === 'conflict',
    );
    assert.deepEqual(await registry.adapters.manifest('big', version), first);
  });

  test("a job's published version is found again (a job run again after it published does not publish twice)", async () => {
    const { registry } = get();
    const since = new Date().toISOString();
    const mine = await registry.adapters.publish(adapterDir(100), { ...META, task: 'once', jobId: 'ft-once' });
    await registry.adapters.publish(adapterDir(100), { ...META, task: 'once', jobId: 'ft-other' });
    assert.equal((await registry.adapters.findJobVersion('once', 'ft-once', since))?.version, mine.version);
    assert.equal(await registry.adapters.findJobVersion('once', 'ft-none', since), null);
    // Versions made before the job was created (less an hour for clocks) are not read.
    assert.equal(await registry.adapters.findJobVersion('once', 'ft-once', new Date(Date.now() + 2 * 3600_000).toISOString()), null);
  });

  test('adapter files stream from the registry; tasks list only visible versions; manifests are cached once read', async () => {
    const { registry, p } = get();
    const dir = adapterDir(4096);
    const manifest = await registry.adapters.publish(dir, { ...META, task: 'streamed' });
    assert.equal(
      registry.adapters.fileKey('streamed', manifest.version, 'metrics.json'),
      `${p}adapters/streamed/${manifest.version}/metrics.json`,
    );
    const body = await registry.adapters.openFile('streamed', manifest.version, 'adapter.safetensors');
    assert.equal(body?.size, 4096);
    assert.equal(sha(await readAll(body!)), manifest.files[0].sha256);
    assert.equal(await registry.adapters.openFile('streamed', manifest.version, 'nope.bin'), null);
    await assert.rejects(
      registry.adapters.openFile('streamed', 'latest', 'adapter.safetensors'),
      (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
    );
    assert.ok((await registry.adapters.tasks({ limit: 100 })).tasks.includes('streamed'));
    const first = await registry.adapters.manifest('streamed', manifest.version);
    assert.deepEqual(first, manifest);
    assert.equal(await registry.adapters.manifest('streamed', manifest.version), first, 'the same object: served from memory');
    assert.equal(await registry.adapters.manifest('streamed', '20250101T000000000Z-00000000000000ff'), null);
    const out = mkdtempSync(join(tmpdir(), 'registry-download-'));
    assert.deepEqual(await registry.adapters.download('streamed', manifest.version, out), manifest);
    assert.equal(sha(readFileSync(join(out, 'adapter.safetensors'))), manifest.files[0].sha256);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')), manifest);
  });

  test('a version dated beyond the clock skew is never visible and never published (it would be "newest" forever)', async () => {
    const { registry, p } = get();
    const now = await registry.adapters.publish(adapterDir(8), { ...META, task: 'clock' });
    const future = '29990101T000000000Z-00000000000000aa';
    const soon = newVersionId(new Date(Date.now() + MAX_VERSION_CLOCK_SKEW_MS / 2)); // within the skew: fine
    for (const v of [future, soon]) {
      await registry.store.put(`${p}adapters/clock/${v}/manifest.json`, JSON.stringify({ ...now, version: v }));
      await registry.store.put(
        `${p}adapters/only-future/${v === future ? v : future}/manifest.json`,
        JSON.stringify({ ...now, task: 'only-future', version: future }),
      );
    }
    assert.deepEqual(await registry.adapters.versions('clock'), [soon, now.version]);
    assert.equal(await registry.adapters.manifest('clock', future), null);
    assert.deepEqual(await registry.adapters.versions('only-future'), []);
    assert.deepEqual(await registry.adapters.latest('only-future'), { versions: [], manifest: null });
    assert.ok(!(await registry.adapters.tasks({ limit: 100 })).tasks.includes('only-future'));
    await assert.rejects(
      registry.adapters.publish(adapterDir(8), { ...META, task: 'clock' }, '29990101T000000000Z-00000000000000bb'),
      (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
    );
    assert.equal(versionTime('20260102T030405006Z-0000000000000000'), Date.UTC(2026, 0, 2, 3, 4, 5, 6));
  });

  test('a manifest that is not JSON, or names another version or task, is corrupt: refused, never served', async () => {
    const { registry, p } = get();
    const good = await registry.adapters.publish(adapterDir(8), { ...META, task: 'mangled' });
    const v1 = '20250101T000000000Z-0000000000000001';
    const v2 = '20250101T000000000Z-0000000000000002';
    const v3 = '20250101T000000000Z-0000000000000003';
    await registry.store.put(`${p}adapters/mangled/${v1}/manifest.json`, '{"version": ');
    await registry.store.put(`${p}adapters/mangled/${v2}/manifest.json`, JSON.stringify({ ...good, version: good.version }));
    await registry.store.put(`${p}adapters/mangled/${v3}/manifest.json`, JSON.stringify({ ...good, version: v3, task: 'other' }));
    for (const v of [v1, v2, v3]) {
      await assert.rejects(registry.adapters.manifest('mangled', v), (e: unknown) => e instanceof RegistryError && e.code === 'corrupt', v);
    }
    assert.deepEqual(await registry.adapters.manifest('mangled', good.version), good);
  });

  test('tasks list a page at a time, in name order, each once', async () => {
    const { registry } = get();
    for (const t of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'])
      await registry.adapters.publish(adapterDir(8), { ...META, task: t });
    const all = (await registry.adapters.tasks({ limit: 100 })).tasks;
    assert.deepEqual(all, [...all].sort());
    const paged: string[] = [];
    let after: string | undefined;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 100, 'paging ends');
      const page = await registry.adapters.tasks({ limit: 2, after });
      assert.ok(page.tasks.length <= 2);
      paged.push(...page.tasks);
      if (!page.hasMore) break;
      after = page.tasks[page.tasks.length - 1];
    }
    assert.deepEqual(paged, all);
    for (const t of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) assert.ok(all.includes(t), t);
    assert.deepEqual((await registry.adapters.tasks({ limit: 100, after: 'page-c' })).tasks.slice(0, 2), ['page-d', 'page-e']);
  });
});

/** Publishes an adapter version from another process (as a trainer does): this process's registry hears nothing of it. */
async function publishFromAnotherProcess(registryUri: string, task: string): Promise<string> {
  // The registry module of this repository, resolved as this file's own imports are.
  const index = import.meta.resolve('../../../shared/registry/index.ts');
  const code = `
    const { Registry } = await import(${JSON.stringify(index)});
    const { ADAPTER_DIR, REGISTRY_URI, TASK } = process.env;
    const meta = { task: TASK, jobId: null, baseModel: { name: 'b', weightsSha256: 'ab'.repeat(32) }, mode: 'adapter', labels: ['a'], parameters: { trainable: 1, total: 2 }, metrics: null };
    process.stdout.write((await Registry.fromUri(REGISTRY_URI).adapters.publish(ADAPTER_DIR, meta)).version);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    env: { ...process.env, ADAPTER_DIR: adapterDir(8), REGISTRY_URI: registryUri, TASK: task },
  });
  return stdout;
}

describe('latest(task): the newest sound manifest, remembered briefly', () => {
  const TTL = 2000;
  /** A local registry counting its store's calls, on a clock the test moves. */
  function countedRegistry(latestTtlMs = TTL) {
    const dir = join(mkdtempSync(join(tmpdir(), 'registry-latest-')), 'registry');
    const counting = new CountingStore(new FileObjectStore(dir));
    const clock = { now: 1000 };
    const registry = new Registry(counting, '', { latestTtlMs, clock: () => clock.now });
    return { dir, counting, clock, registry };
  }
  /** A version dated `offsetMs` from now (so versions made within one millisecond still sort as the test means). */
  const publish = (registry: Registry, task: string, offsetMs = 0) =>
    registry.adapters.publish(adapterDir(8), { ...META, task }, newVersionId(new Date(Date.now() + offsetMs)));

  test('a second read within the TTL lists nothing and reads nothing', async () => {
    const { counting, registry } = countedRegistry();
    const v1 = await publish(registry, 'warm');
    const before = counting.snapshot();
    const first = await registry.adapters.latest('warm');
    assert.deepEqual(first, { versions: [v1.version], manifest: v1 });
    assert.equal(counting.calls.listPage - before.listPage, 1, 'a cold read lists the task once');
    const warm = counting.snapshot();
    assert.deepEqual(await registry.adapters.latest('warm'), first);
    assert.deepEqual(await registry.adapters.tasks({ limit: 10 }), { tasks: ['warm'], hasMore: false });
    assert.deepEqual(counting.snapshot(), { ...warm, listPage: warm.listPage + 1 }, "only tasks()'s own listing of adapters/");
  });

  test('readers asking at once share one read', async () => {
    const { counting, registry } = countedRegistry();
    const v1 = await publish(registry, 'crowd');
    const before = counting.snapshot();
    const answers = await Promise.all(Array.from({ length: 8 }, () => registry.adapters.latest('crowd')));
    for (const a of answers) assert.equal(a.manifest?.version, v1.version);
    assert.equal(counting.calls.listPage - before.listPage, 1);
  });

  test('a version published in this process is served at once, by any Registry over that store', async () => {
    const { dir, registry } = countedRegistry();
    const v1 = await publish(registry, 'mine', -2000);
    await registry.adapters.latest('mine');
    const v2 = await publish(registry, 'mine', -1000);
    assert.equal((await registry.adapters.latest('mine')).manifest?.version, v2.version, 'the clock has not moved');
    // The trainer run in-process (tests, the sweep reducer) publishes through a Registry of its own.
    const other = Registry.fromUri(pathToFileURL(dir).href);
    const v3 = await publish(other, 'mine');
    assert.deepEqual(await registry.adapters.latest('mine'), { versions: [v3.version, v2.version, v1.version], manifest: v3 });
  });

  test("another process's version is served once the TTL has passed, and not before", async () => {
    const { dir, counting, clock, registry } = countedRegistry();
    const v1 = await publish(registry, 'theirs', -60_000); // older than anything the other process makes
    assert.equal((await registry.adapters.latest('theirs')).manifest?.version, v1.version);
    const v2 = await publishFromAnotherProcess(pathToFileURL(dir).href, 'theirs');
    assert.match(v2, /^\d{8}T\d{9}Z-[0-9a-f]{16}$/);
    clock.now += TTL - 1;
    const stale = counting.snapshot();
    assert.equal((await registry.adapters.latest('theirs')).manifest?.version, v1.version, 'within the TTL: remembered');
    assert.deepEqual(counting.snapshot(), stale);
    clock.now += 1;
    assert.deepEqual((await registry.adapters.latest('theirs')).versions, [v2, v1.version]);
    assert.equal((await registry.adapters.latest('theirs')).manifest?.version, v2);
  });

  test("a version a job's status names (sawVersion) is served before the TTL runs out; a known one keeps the cache", async () => {
    const { dir, counting, registry } = countedRegistry();
    const v1 = await publish(registry, 'told', -60_000);
    await registry.adapters.latest('told');
    registry.adapters.sawVersion('told', v1.version); // already listed: nothing to forget
    const warm = counting.snapshot();
    assert.equal((await registry.adapters.latest('told')).manifest?.version, v1.version);
    assert.deepEqual(counting.snapshot(), warm, 'a version the answer lists keeps it');
    const v2 = await publishFromAnotherProcess(pathToFileURL(dir).href, 'told');
    registry.adapters.sawVersion('told', v2); // the clock has not moved
    assert.equal((await registry.adapters.latest('told')).manifest?.version, v2);
  });

  test('a corrupt newer manifest is passed over and told to every caller, remembered or not', async () => {
    const { counting, registry } = countedRegistry();
    const good = await publish(registry, 'rotten');
    const bad = newVersionId(new Date(Date.now() + 60_000)); // newer, within the clock skew
    await counting.inner.put(`adapters/rotten/${bad}/manifest.json`, '{"not": "a manifest"');
    const told: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { versions, manifest } = await registry.adapters.latest('rotten', (version, err) => told.push(`${version}: ${err.code}`));
      assert.deepEqual(versions, [bad, good.version]);
      assert.equal(manifest?.version, good.version);
    }
    assert.deepEqual(told, [`${bad}: corrupt`, `${bad}: corrupt`]);
  });

  test('a failed read is not remembered; a TTL of 0 reads the store every time; a bad TTL is refused', async () => {
    const { counting, registry } = countedRegistry();
    const v1 = await publish(registry, 'flaky');
    counting.failNextListing = true;
    await assert.rejects(registry.adapters.latest('flaky'), /the store is down/);
    assert.equal((await registry.adapters.latest('flaky')).manifest?.version, v1.version);

    const uncached = countedRegistry(0);
    await publish(uncached.registry, 'every');
    const before = uncached.counting.snapshot();
    await uncached.registry.adapters.latest('every');
    await uncached.registry.adapters.latest('every');
    assert.equal(uncached.counting.calls.listPage - before.listPage, 2);

    assert.throws(
      () => new Registry(counting, '', { latestTtlMs: -1 }),
      (e: unknown) => e instanceof RegistryError && e.message === 'latestTtlMs -1 is not a number of milliseconds (0 or more)',
    );
    await assert.rejects(registry.adapters.latest('Not/A/Task'), (e: unknown) => e instanceof RegistryError && e.code === 'invalid');
  });
});
