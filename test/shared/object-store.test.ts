/**
 * The object-store contract, run against both implementations: S3 (through the AWS SDK against a real
 * S3-compatible server on loopback) and a local directory. Create-only writes never overwrite and of
 * racing writers exactly one wins; rewrites are atomic for readers; listings come in S3's byte order,
 * paginate, roll up '/' into prefixes and start after a key; deletes are idempotent.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { FileObjectStore, isPathOf, STALE_TEMPORARY_MS } from '../../shared/file-object-store.ts';
import { type ObjectStore, ObjectStoreError, readAll } from '../../shared/object-store.ts';
import { S3ObjectStore } from '../../shared/s3-object-store.ts';
import { type S3TestServer, startS3Server } from '../support/s3-server.ts';

const text = async (store: ObjectStore, key: string) => {
  const body = await store.get(key);
  return body && (await readAll(body)).toString('utf8');
};

const conflict = (e: unknown) => e instanceof ObjectStoreError && e.code === 'conflict';

/** Every key and prefix under `prefix`, page by page. */
async function listAll(store: ObjectStore, prefix: string, o: { delimiter?: '/'; maxKeys?: number; startAfter?: string } = {}) {
  const pages: string[][] = [];
  let token: string | undefined;
  do {
    const page = await store.listPage({ prefix, continuationToken: token, ...o });
    pages.push([...page.keys.map((k) => k.key), ...page.prefixes]);
    token = page.next;
  } while (token);
  return pages;
}

function contract(name: string, open: () => Promise<ObjectStore>): void {
  describe(name, () => {
    let store: ObjectStore;
    before(async () => {
      store = await open();
    });

    test('put and get round-trip bytes; a missing key is null; sizes are reported', async () => {
      const bytes = randomBytes(3 * 1024 * 1024 + 7);
      await store.put('blob/x.bin', Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), { length: bytes.length });
      const body = await store.get('blob/x.bin');
      assert.equal(body?.size, bytes.length);
      assert.ok((await readAll(body!)).equals(bytes));
      assert.equal(await store.get('blob/none'), null);
      assert.deepEqual((await store.listPage({ prefix: 'blob/' })).keys, [{ key: 'blob/x.bin', size: bytes.length }]);
    });

    test('create-only never overwrites, and of racing writers exactly one wins', async () => {
      await store.put('v/1/manifest.json', 'first', { ifNoneMatch: true });
      await assert.rejects(store.put('v/1/manifest.json', 'second', { ifNoneMatch: true }), conflict);
      assert.equal(await text(store, 'v/1/manifest.json'), 'first');
      const racers = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put('claim', `racer ${i}`, { ifNoneMatch: true })));
      assert.equal(racers.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(racers.every((r) => r.status === 'fulfilled' || conflict(r.reason)));
      const winner = racers.findIndex((r) => r.status === 'fulfilled');
      assert.equal(await text(store, 'claim'), `racer ${winner}`);
      // Without the condition a write replaces (status.json is rewritten as a job runs).
      await store.put('claim', 'replaced');
      assert.equal(await text(store, 'claim'), 'replaced');
    });

    test('a read racing rewrites sees one whole version, never a torn one', async () => {
      const versions = Array.from({ length: 20 }, (_, i) => JSON.stringify({ step: i, pad: String(i % 10).repeat(200_000) }));
      await store.put('jobs/x/status.json', versions[0]);
      let writing = true;
      const writer = (async () => {
        for (const v of versions) await store.put('jobs/x/status.json', v);
        writing = false;
      })();
      let reads = 0;
      while (writing) {
        const got = await text(store, 'jobs/x/status.json');
        assert.ok(got !== null && versions.includes(got), `read ${reads} saw a torn object (${got?.length} bytes)`);
        reads++;
      }
      await writer;
      assert.equal(await text(store, 'jobs/x/status.json'), versions.at(-1));
    });

    test("listings are in byte order ('a-b' before 'a/c'), paginate, start after a key and roll up prefixes", async () => {
      const keys = ['l/a/c', 'l/a-b', 'l/a/b/d', 'l/b', 'l/a0', 'l/c/x', 'l/c/y', 'l/d'];
      for (const k of keys) await store.put(k, k);
      const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.deepEqual((await listAll(store, 'l/')).flat(), sorted);
      assert.deepEqual(await listAll(store, 'l/', { maxKeys: 3 }), [sorted.slice(0, 3), sorted.slice(3, 6), sorted.slice(6)]);
      assert.deepEqual((await listAll(store, 'l/', { startAfter: 'l/a/c' })).flat(), sorted.slice(sorted.indexOf('l/a/c') + 1));
      assert.deepEqual(
        (await listAll(store, 'l/a')).flat(),
        sorted.filter((k) => k.startsWith('l/a')),
      );
      const rolled = await store.listPage({ prefix: 'l/', delimiter: '/' });
      assert.deepEqual(
        rolled.keys.map((k) => k.key),
        ['l/a-b', 'l/a0', 'l/b', 'l/d'],
      );
      assert.deepEqual(rolled.prefixes, ['l/a/', 'l/c/']);
      const paged = await listAll(store, 'l/', { delimiter: '/', maxKeys: 2 });
      // (A set: the test S3 server, unlike S3, repeats a page's last prefix at the start of the next.)
      assert.deepEqual([...new Set(paged.flat())].sort(), ['l/a-b', 'l/a/', 'l/a0', 'l/b', 'l/c/', 'l/d']);
      assert.deepEqual((await store.listPage({ prefix: 'nothing/' })).keys, []);
    });

    test('delete removes a key; deleting a missing one is no error; an emptied folder is no prefix', async () => {
      await store.put('gone/one', '1');
      await store.delete('gone/one');
      await store.delete('gone/one');
      assert.equal(await store.get('gone/one'), null);
      assert.deepEqual((await store.listPage({ prefix: '', delimiter: '/' })).prefixes.includes('gone/'), false);
    });

    test('objectState: exists, missing; readableUri names what the dataset reader opens', async () => {
      assert.equal(await store.objectState(store.bucket, 'claim'), 'exists');
      assert.equal(await store.objectState(store.bucket, 'no/such'), 'missing');
      assert.match(store.readableUri('elsewhere', 'k.jsonl'), /^s3:\/\/elsewhere\/k\.jsonl$/);
    });
  });
}

let s3: S3TestServer;
after(async () => {
  await s3?.stop();
});

contract('S3 (the AWS SDK against an S3-compatible server)', async () => {
  s3 = await startS3Server();
  await s3.createBucket('contract');
  return new S3ObjectStore(s3.client, 'contract');
});

contract('a local directory', async () => new FileObjectStore(join(mkdtempSync(join(tmpdir(), 'object-store-')), 'contract')));

describe('the local directory only', () => {
  const root = join(mkdtempSync(join(tmpdir(), 'object-store-')), 'bucket');
  const store = new FileObjectStore(root);

  test('keys cannot leave the directory or reach its temporary folder', async () => {
    for (const key of ['../escape', 'a/../../b', '.tmp/x', 'a//b', '/abs', 'a/.hidden', '']) {
      await assert.rejects(store.put(key, 'x'), (e: unknown) => e instanceof ObjectStoreError && e.code === 'invalid', key);
    }
    assert.equal(await store.objectState(store.bucket, '../x'), 'missing');
  });

  test('a failed write leaves neither the object nor a temporary file', async () => {
    await assert.rejects(
      store.put('short', Readable.from([Buffer.from('abc')]), { length: 10 }),
      (e: unknown) => e instanceof ObjectStoreError && e.code === 'invalid',
    );
    assert.equal(await store.get('short'), null);
    assert.deepEqual(readdirSync(join(root, '.tmp')), []);
  });

  test('its own objects are read as files; other buckets are neither readable nor rewritten', async () => {
    await store.put('datasets/d.jsonl', '{}');
    assert.equal(store.readableUri('bucket', 'datasets/d.jsonl'), `file://${root}/datasets/d.jsonl`);
    assert.equal(await store.objectState('other-bucket', 'datasets/d.jsonl'), 'forbidden');
    assert.equal(store.uri, `file://${root}`);
  });
});

describe('the local directory: symbolic links, stale uploads and messages (issue 21, finding 7)', () => {
  const outside = mkdtempSync(join(tmpdir(), 'object-store-outside-'));
  const root = join(mkdtempSync(join(tmpdir(), 'object-store-')), 'bucket');
  const store = new FileObjectStore(root);
  const secret = join(outside, 'hostname');
  writeFileSync(secret, 'secret-host\n');
  const storage = (e: unknown) => e instanceof ObjectStoreError && e.code === 'storage';

  test('a planted link as an object (README.md -> a file outside) is never read, listed or counted', async () => {
    await store.put('adapters/t/v/adapter.safetensors', 'weights');
    symlinkSync(secret, join(root, 'adapters/t/v/README.md'));
    await assert.rejects(store.get('adapters/t/v/README.md'), (e: unknown) => {
      assert.ok(storage(e));
      const message = (e as Error).message;
      assert.match(message, /^s3:\/\/bucket\/adapters\/t\/v\/README\.md: the object is a symbolic link/);
      assert.ok(!message.includes(root) && !message.includes(outside), message);
      return true;
    });
    assert.equal(await store.objectState('bucket', 'adapters/t/v/README.md'), 'missing');
    assert.deepEqual(
      (await store.listPage({ prefix: 'adapters/t/v/' })).keys.map((k) => k.key),
      ['adapters/t/v/adapter.safetensors'],
    );
    assert.throws(() => store.readableUri('bucket', 'adapters/t/v/README.md'), storage);
  });

  test('a folder that is a link: nothing under it is read or written', async () => {
    mkdirSync(join(outside, 'elsewhere'));
    writeFileSync(join(outside, 'elsewhere', 'x.jsonl'), 'outside');
    mkdirSync(join(root, 'datasets'), { recursive: true });
    symlinkSync(join(outside, 'elsewhere'), join(root, 'datasets', 'linked'));
    await assert.rejects(store.get('datasets/linked/x.jsonl'), storage);
    await assert.rejects(store.put('datasets/linked/y.jsonl', 'planted'), storage);
    assert.deepEqual(readdirSync(join(outside, 'elsewhere')), ['x.jsonl'], 'nothing written outside the store');
    await assert.rejects(store.delete('datasets/linked/x.jsonl'), storage);
    assert.equal(readFileSync(join(outside, 'elsewhere', 'x.jsonl'), 'utf8'), 'outside');
    assert.equal(await store.objectState('bucket', 'datasets/linked/x.jsonl'), 'missing');
  });

  test('a folder linked to another folder of the store is not read through either (a key names one file)', async () => {
    await store.put('adapters/real/v/adapter.safetensors', 'weights');
    symlinkSync(join(root, 'adapters', 'real'), join(root, 'adapters', 'alias'));
    await assert.rejects(store.get('adapters/alias/v/adapter.safetensors'), (e: unknown) => {
      assert.ok(storage(e));
      assert.match((e as Error).message, /^s3:\/\/bucket\/adapters\/alias\/v\/adapter\.safetensors: a folder is a symbolic link/);
      return true;
    });
    assert.equal(await text(store, 'adapters/real/v/adapter.safetensors'), 'weights');
    assert.equal(await store.get('adapters/alias/v/missing.json'), null, 'a missing object is missing, wherever the link leads');
  });

  test('an open file is where its key says, or was until a rewrite renamed a new file over it', () => {
    assert.ok(isPathOf('/s/bucket/jobs/x/status.json', '/s/bucket/jobs/x/status.json'));
    assert.ok(isPathOf('/s/bucket/jobs/x/status.json (deleted)', '/s/bucket/jobs/x/status.json'));
    assert.ok(!isPathOf('/s/bucket/jobs/y/status.json', '/s/bucket/jobs/x/status.json'), 'another folder of the store');
    assert.ok(!isPathOf('/elsewhere/jobs/x/status.json', '/s/bucket/jobs/x/status.json'));
    assert.ok(!isPathOf('/s/bucket/jobs/x/status.json.old', '/s/bucket/jobs/x/status.json'));
  });

  test('error details name the object by its s3:// URI, never by a server path', async () => {
    await store.put('v/manifest.json', 'first', { ifNoneMatch: true });
    await assert.rejects(store.put('v/manifest.json', 'second', { ifNoneMatch: true }), (e: unknown) => {
      assert.equal((e as Error).message, 's3://bucket/v/manifest.json already exists and is immutable');
      return true;
    });
    await assert.rejects(store.put('short', Readable.from([Buffer.from('abc')]), { length: 10 }), (e: unknown) => {
      assert.equal((e as Error).message, 'writing s3://bucket/short: got 3 bytes, expected 10');
      return true;
    });
  });

  test('partial uploads left in .tmp/ past the bound are removed (a kill -9 mid-upload); recent ones stay', async () => {
    mkdirSync(join(root, '.tmp'), { recursive: true });
    writeFileSync(join(root, '.tmp', 'dead-upload'), Buffer.alloc(1024));
    writeFileSync(join(root, '.tmp', 'live-upload'), Buffer.alloc(1024));
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    utimesSync(join(root, '.tmp', 'dead-upload'), twoHoursAgo, twoHoursAgo);
    assert.equal(STALE_TEMPORARY_MS, 3600 * 1000);
    assert.equal(await store.removeStaleTemporaryFiles(), 1);
    assert.deepEqual(readdirSync(join(root, '.tmp')), ['live-upload']);
    assert.equal(await store.removeStaleTemporaryFiles(60 * 1000, Date.now() + 5 * 60 * 1000), 1, 'the bound is settable');
    assert.deepEqual(readdirSync(join(root, '.tmp')), []);
  });
});
