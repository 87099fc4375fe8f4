/**
 * A real S3-compatible HTTP server on loopback for tests: fauxqs 1.9.2 (npm; its 2.x needs Node >= 22.5)
 * serving the S3 REST API, bound to 127.0.0.1 on a free port (fauxqs's own `startFauxqs` binds 0.0.0.0,
 * so this builds its app and listens itself). The AWS SDK talks to it over HTTP exactly as to AWS:
 * signing, path-style URLs, XML errors, streamed (aws-chunked) uploads.
 *
 *   const s3 = await startS3Server();
 *   await s3.createBucket('data');
 *   await s3.putObject('data', 'train.jsonl', text);
 *   const restore = s3.useEnv();      // AWS_ENDPOINT_URL_S3 & co. for code that builds its own client
 *   ...
 *   restore(); await s3.stop();
 *
 * Why fauxqs rather than s3rver 3.7.1: fauxqs decodes aws-chunked
 * stream uploads (s3rver stores the chunk framing as data unless every client turns checksums off),
 * paginates ListObjectsV2 (s3rver answers 500 on any truncated page without
 * NODE_OPTIONS=--openssl-legacy-provider), computes multipart ETags and handles DeleteObjects
 * correctly (s3rver answers 500 for keys under one prefix), and is maintained.
 *
 * What it does not emulate (tests must not rely on these):
 * - Conditional writes: fauxqs ignores If-None-Match / If-Match. This harness adds them (on by
 *   default, `conditionalWrites: false` to turn off) for PutObject and CompleteMultipartUpload:
 *   `If-None-Match: *` on an existing key and `If-Match` with another ETag answer 412
 *   PreconditionFailed, `If-Match` on a missing key 404 NoSuchKey; conditional writes to one key are
 *   serialised, so of two racing `If-None-Match: *` writes exactly one wins, as on S3.
 * - Authentication and authorisation: any credentials are accepted and nothing is ever AccessDenied
 *   (signatures are not checked; bucket policies, ACLs and IAM do not exist).
 * - Persistence: objects live in this process's memory (no temp directory; nothing survives stop()),
 *   so a test's objects count toward the test process's memory.
 * - Request size: a single PutObject / UploadPart body is limited to 11 MiB (fauxqs's body limit); use
 *   multipart uploads for more, as S3 needs past 5 GiB anyway.
 * - Versioning, object lock, lifecycle, tagging, CORS, encryption, presigned POST, checksums
 *   (x-amz-checksum-* are not verified or returned), ListObjectVersions and GetBucketLocation.
 * - Virtual-hosted-style URLs need DNS for <bucket>.localhost: clients here use path style
 *   (forcePathStyle), which shared/registry.ts's s3ClientFromEnv turns on whenever an endpoint is set.
 */
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { buildApp } from 'fauxqs';

export interface S3TestServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** A client for this server: path style, fixed test credentials, checksums only when required. */
  client: S3Client;
  /** The standard AWS environment that points an SDK client at this server. */
  env: Record<string, string>;
  createBucket(bucket: string): Promise<void>;
  putObject(bucket: string, key: string, body: string | Uint8Array | Readable, contentLength?: number): Promise<void>;
  /** Sets `env` in process.env; the returned function restores what was there. */
  useEnv(): () => void;
  stop(): Promise<void>;
}

export interface S3ServerOptions {
  /** Enforce If-None-Match / If-Match on writes (fauxqs ignores them). Default true. */
  conditionalWrites?: boolean;
  /**
   * Hold the answer to object writes whose path contains `pathContains` for `ms` after the object is
   * stored: a client that dies meanwhile has still written it, as on S3 (races around publishing).
   */
  slowWrites?: { pathContains: string; ms: number };
}

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const REGION = 'us-east-1';

function s3ErrorXml(code: string, message: string, extra = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>s3-test-server</RequestId></Error>`;
}

export async function startS3Server(o: S3ServerOptions = {}): Promise<S3TestServer> {
  const app = buildApp({ logger: false, defaultRegion: REGION });
  if (o.conditionalWrites ?? true) addConditionalWrites(app);
  const slow = o.slowWrites;
  if (slow) {
    app.addHook('onSend', async (req, _reply, payload) => {
      if ((req.method === 'PUT' || req.method === 'POST') && req.url.includes(slow.pathContains))
        await new Promise((r) => setTimeout(r, slow.ms));
      return payload;
    });
  }
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_S3_FORCE_PATH_STYLE: 'true',
  };
  return {
    endpoint,
    client,
    env,
    async createBucket(bucket) {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    },
    async putObject(bucket, key, body, contentLength) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: contentLength }));
    },
    useEnv() {
      const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
      return () => {
        for (const [k, v] of saved) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      };
    },
    async stop() {
      client.destroy();
      await app.close();
    },
  };
}

type App = ReturnType<typeof buildApp>;

/**
 * If-None-Match / If-Match for PutObject and CompleteMultipartUpload, checked against the current
 * object (a HEAD through the app itself) while holding a per-key lock until the write has answered.
 */
function addConditionalWrites(app: App): void {
  const locks = new Map<string, Promise<void>>();
  const releases = new WeakMap<object, () => void>();

  app.addHook('preHandler', async (req, reply) => {
    const ifNoneMatch = req.headers['if-none-match'];
    const ifMatch = req.headers['if-match'];
    if (ifNoneMatch === undefined && ifMatch === undefined) return;
    const url = new URL(req.url, 'http://s3.local');
    const isPut = req.method === 'PUT' && !url.searchParams.has('partNumber') && req.headers['x-amz-copy-source'] === undefined;
    const isComplete = req.method === 'POST' && url.searchParams.has('uploadId');
    // Only object writes: /<bucket>/<key...>
    if (!(isPut || isComplete) || url.pathname.split('/').filter(Boolean).length < 2) return;
    const key = decodeURIComponent(url.pathname);

    // Wait for earlier conditional writes to this key, then hold the key until this one has answered.
    for (let held = locks.get(key); held; held = locks.get(key)) await held;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    locks.set(key, held);
    let released = false;
    const done = (): void => {
      if (released) return;
      released = true;
      if (locks.get(key) === held) locks.delete(key);
      release();
    };
    releases.set(req, done);
    // A client killed while its answer is held (a host gone mid-upload) gets no onResponse: the
    // connection's close releases the key, or every later write to it would wait forever.
    reply.raw.once('close', done);

    const head = await app.inject({ method: 'HEAD', url: url.pathname });
    const exists = head.statusCode === 200;
    const etag = typeof head.headers.etag === 'string' ? head.headers.etag : undefined;
    let failed: { status: number; body: string } | null = null;
    if (ifNoneMatch !== undefined && exists && (ifNoneMatch === '*' || ifNoneMatch === etag)) {
      failed = {
        status: 412,
        body: s3ErrorXml(
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          '<Condition>If-None-Match</Condition>',
        ),
      };
    } else if (ifMatch !== undefined && !exists) {
      failed = { status: 404, body: s3ErrorXml('NoSuchKey', 'The specified key does not exist.') };
    } else if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag) {
      failed = {
        status: 412,
        body: s3ErrorXml(
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          '<Condition>If-Match</Condition>',
        ),
      };
    }
    if (failed) {
      done();
      releases.delete(req);
      return reply.code(failed.status).header('content-type', 'application/xml').send(failed.body);
    }
  });
  const finish = async (req: object): Promise<void> => {
    const done = releases.get(req);
    releases.delete(req);
    done?.();
  };
  app.addHook('onResponse', finish);
  app.addHook('onRequestAbort', finish);
}
