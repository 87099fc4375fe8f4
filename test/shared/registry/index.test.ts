/** The composed Registry: where it is (URIs), its messages for clients, and latest(task)'s TTL from the environment. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DEFAULT_LATEST_TTL_MS, latestTtlMsFromEnv, parseRegistryUri, Registry, RegistryError } from '../../../shared/registry/index.ts';

test('registry URIs: s3:// and file:// are accepted, anything else is a precise error', () => {
  assert.equal(Registry.fromUri('file:///tmp/stores/adapter-store').uri, 'file:///tmp/stores/adapter-store');
  assert.equal(Registry.fromUri('file:///tmp/stores/adapter-store').location.bucket, 'adapter-store');
  assert.deepEqual(parseRegistryUri('s3://bucket/some/prefix/'), { bucket: 'bucket', prefix: 'some/prefix/' });
  assert.equal(Registry.fromUri('s3://bucket/some/prefix').uri, 's3://bucket/some/prefix');
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
    await messageOf(local.models.download('nope', join(root, '..', 'work'))),
    await messageOf(local.jobs.spec('ft-missing')),
    await messageOf(Promise.resolve().then(() => local.presignGet('models/x', 60))),
  ];
  assert.deepEqual(messages, [
    'base model "nope" not found in s3://adapter-store/models/',
    'job "ft-missing" has no spec at s3://adapter-store/jobs/ft-missing/spec.json',
    's3://adapter-store/ cannot presign URLs (only an S3 registry can)',
  ]);
  for (const m of messages) assert.ok(!m.includes(root) && !m.includes('file:'), m);
  assert.equal(local.withoutLocalPaths(`failed reading ${root}/datasets/x.jsonl`), 'failed reading s3://adapter-store/datasets/x.jsonl');
});

test("latest(task)'s TTL: ADAPTER_STORE_LATEST_TTL_MS, a whole number of ms, the default when unset", () => {
  assert.equal(latestTtlMsFromEnv({}), DEFAULT_LATEST_TTL_MS);
  assert.equal(latestTtlMsFromEnv({ ADAPTER_STORE_LATEST_TTL_MS: '' }), DEFAULT_LATEST_TTL_MS);
  assert.equal(latestTtlMsFromEnv({ ADAPTER_STORE_LATEST_TTL_MS: '0' }), 0);
  assert.equal(latestTtlMsFromEnv({ ADAPTER_STORE_LATEST_TTL_MS: '250' }), 250);
  for (const bad of ['-1', '1.5', 'soon', '1e99'])
    assert.throws(
      () => latestTtlMsFromEnv({ ADAPTER_STORE_LATEST_TTL_MS: bad }),
      (e: unknown) =>
        e instanceof RegistryError &&
        e.message === `ADAPTER_STORE_LATEST_TTL_MS must be a whole number of milliseconds (0 or more), got "${bad}"`,
      bad,
    );
});
