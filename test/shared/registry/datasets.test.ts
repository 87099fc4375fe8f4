/** Datasets over both stores: content-addressed and immutable, names checked, signed uploads land once at their key. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { RegistryError } from '../../../shared/registry/index.ts';
import { forEachStore } from '../../support/registry-stores.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

forEachStore((get) => {
  test('datasets are content-addressed and immutable; names are checked', async () => {
    const { registry, p } = get();
    const body = Buffer.from('{"text":"x","label":1}\n');
    const uri = await registry.datasets.put('d.jsonl', sha(body), body);
    assert.equal(uri, `s3://registry/${p}datasets/${sha(body).slice(0, 16)}/d.jsonl`);
    assert.equal(await registry.datasets.put('d.jsonl', sha(body), body), uri, 'the same bytes again: same URI');
    await assert.rejects(
      registry.datasets.put('../d.jsonl', sha(body), body),
      (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
    );
    await assert.rejects(
      registry.datasets.put('d.jsonl', 'nothex', body),
      (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
    );
    assert.match(registry.datasets.newUploadKey('big.csv'), new RegExp(`^${p}datasets/uploads/\\d{8}T\\d{9}Z-[0-9a-f]{16}/big\\.csv$`));
  });

  test('dataset URIs: s3://<bucket>/<key>, read back through readableUri; signed uploads land once at their key', async () => {
    const { registry, p } = get();
    const body = Buffer.from('{"text":"x","label":1}\n');
    const uri = await registry.datasets.put('r.jsonl', sha(body), body);
    const readable = registry.datasets.readableUri(uri);
    if (readable.startsWith('file:')) assert.equal(readFileSync(new URL(readable), 'utf8'), body.toString());
    else assert.equal(readable, uri);
    assert.equal(registry.datasets.readableUri('s3://other-bucket/x.jsonl'), 's3://other-bucket/x.jsonl');
    const key = registry.datasets.newUploadKey('up.jsonl');
    assert.equal(await registry.datasets.putUpload(key, Readable.from([body]), body.length), registry.uriOf(key));
    await assert.rejects(
      registry.datasets.putUpload(key, Readable.from([body]), body.length),
      (e: unknown) => e instanceof RegistryError && e.code === 'conflict',
    );
    await assert.rejects(
      registry.datasets.putUpload(`${p}adapters/x/y`, Readable.from([body]), body.length),
      (e: unknown) => e instanceof RegistryError && e.code === 'invalid',
    );
  });
});
