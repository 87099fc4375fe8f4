/**
 * The embedded store of `npm start`: s3rver 3.7.1, a real S3-compatible HTTP server persisting to a
 * local directory, on loopback. Everything (the API, the trainer children) talks to it through the AWS
 * SDK exactly as to S3, so embedded mode runs the same registry code as AWS.
 *
 * What s3rver lacks and this module adds or works around:
 * - conditional writes: s3rver ignores If-None-Match. A middleware in front of its routes answers 412
 *   to `If-None-Match: *` PutObject / CompleteMultipartUpload on an existing key, serialising
 *   conditional writes per key, so versions and idempotency claims are never overwritten here either;
 * - ListObjectsV2 continuation tokens use DES: the process must run with --openssl-legacy-provider
 *   (`npm start` does), checked at start so a missing flag fails loudly instead of as a 500 later;
 * - aws-chunked stream bodies are stored with their framing: every client must send checksums only
 *   when required (shared/registry.ts's s3ClientFromEnv does);
 * - s3rver overwrites an object file in place (and answers a small PUT before its bytes are on disk), so a
 *   read racing a rewrite of jobs/<id>/status.json could see half a file: writes here go to a temporary
 *   file that is renamed over the object once complete, and a read checks that the file it opened has
 *   the length it announces (else it reads again), so readers see one whole version.
 */
import { createHash, getCiphers, randomBytes } from 'node:crypto';
import { createWriteStream, fstatSync, mkdirSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3rver, { type FilesystemStore, type S3rverContext, type StoredObject } from 's3rver';

/** s3rver's fixed credentials: it checks request signatures against them. */
export const EMBEDDED_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
const REGION = 'us-east-1';

export interface EmbeddedS3 {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** The standard AWS environment pointing an SDK client (and the trainer children) at this store. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface EmbeddedS3Options {
  /** Where objects live; created if missing. */
  directory: string;
  /** Buckets to create at start (kept if they exist). */
  buckets: string[];
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
}

function preconditionFailed(ctx: S3rverContext): void {
  ctx.status = 412;
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
    '<Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>';
}

/** `If-None-Match: *` on object writes, checked and written under a per-key lock. */
function conditionalWrites(s3: S3rver) {
  const locks = new Map<string, Promise<void>>();
  return async (ctx: S3rverContext, next: () => Promise<void>): Promise<void> => {
    if (ctx.headers['if-none-match'] === undefined) return next();
    const isPut = ctx.method === 'PUT' && ctx.query.partNumber === undefined && ctx.headers['x-amz-copy-source'] === undefined;
    const isComplete = ctx.method === 'POST' && ctx.query.uploadId !== undefined;
    const [bucket, ...rest] = ctx.path.split('/').filter(Boolean);
    if (!(isPut || isComplete) || rest.length === 0) return next();
    if (ctx.headers['if-none-match'] !== '*') return next(); // the registry only ever sends '*'
    const key = decodeURIComponent(rest.join('/'));
    const lockKey = `${bucket}/${key}`;

    for (let held = locks.get(lockKey); held; held = locks.get(lockKey)) await held;
    let release!: () => void;
    locks.set(lockKey, new Promise<void>((r) => (release = r)));
    try {
      if (await s3.store.existsObject(bucket, key)) return preconditionFailed(ctx);
      await next();
    } finally {
      locks.delete(lockKey);
      release();
    }
  };
}

/** The object metadata s3rver keeps (its own list, so stored metadata stays what s3rver would write). */
const ALLOWED_METADATA = (createRequire(import.meta.url)('s3rver/lib/models/object.js') as { ALLOWED_METADATA: string[] }).ALLOWED_METADATA;

/**
 * Replaces the store's in-place writes with write-to-temporary-then-rename (atomic on one filesystem),
 * and makes reads check that the opened file matches the length taken from the metadata a moment before.
 */
function atomicObjects(store: FilesystemStore, tmpDir: string): void {
  mkdirSync(tmpDir, { recursive: true });
  const writeAtomically = async (path: string, write: (tmp: string) => Promise<void>) => {
    const tmp = join(tmpDir, randomBytes(8).toString('hex'));
    try {
      await write(tmp);
      await mkdir(dirname(path), { recursive: true });
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
  };
  store.putMetadata = async (bucket, key, metadata, md5) => {
    const kept = Object.fromEntries(Object.entries(metadata).filter(([k]) => ALLOWED_METADATA.includes(k) || k.startsWith('x-amz-meta-')));
    if (md5) await writeAtomically(store.getResourcePath(bucket, key, 'object.md5'), (tmp) => writeFile(tmp, md5));
    await writeAtomically(store.getResourcePath(bucket, key, 'metadata.json'), (tmp) => writeFile(tmp, JSON.stringify(kept, null, 2)));
  };
  store.putObject = async (object: StoredObject) => {
    const hash = createHash('md5');
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    await writeAtomically(store.getResourcePath(object.bucket, object.key, 'object'), (tmp) => pipeline(source, count, createWriteStream(tmp)));
    const md5 = hash.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size, md5 };
  };
  const getObject = store.getObject.bind(store);
  store.getObject = async (bucket, key, options) => {
    for (let attempt = 1; ; attempt++) {
      const object = await getObject(bucket, key, options);
      const fd = object?.content?.fd;
      // The opened file is one version whatever renames follow; only its length may disagree.
      if (!object?.content || typeof fd !== 'number' || fstatSync(fd).size === Number(object.metadata['content-length']) || attempt === 5) return object;
      object.content.destroy();
    }
  };
}

/** s3rver leaves a failed listen as an uncaught 'error' event: try the port first, for a clear message. */
function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      fail(new Error(err.code === 'EADDRINUSE' ? `the embedded store's port ${port} on ${host} is in use (set ADAPTER_STORE_S3_PORT to another, or 0)` : err.message)),
    );
    probe.listen(port, host, () => probe.close(() => done()));
  });
}

export async function startEmbeddedS3(o: EmbeddedS3Options): Promise<EmbeddedS3> {
  if (!getCiphers().includes('des-cbc')) {
    throw new Error('the embedded S3 store needs the OpenSSL legacy provider: run node with --openssl-legacy-provider (npm start does)');
  }
  mkdirSync(o.directory, { recursive: true });
  await checkPortFree(o.host ?? '127.0.0.1', o.port ?? 0);
  const s3 = new S3rver({
    address: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    directory: o.directory,
    silent: true,
    configureBuckets: o.buckets.map((name) => ({ name })),
  });
  s3.middleware.unshift(conditionalWrites(s3));
  // Beside the bucket directories (a folder inside would list as a bucket), on the same filesystem.
  atomicObjects(s3.store, `${o.directory.replace(/\/+$/, '')}.tmp`);
  const { port } = await s3.run();
  const endpoint = `http://${o.host ?? '127.0.0.1'}:${port}`;
  return {
    endpoint,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: EMBEDDED_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMBEDDED_CREDENTIALS.secretAccessKey,
    },
    stop: () => s3.close(),
  };
}
