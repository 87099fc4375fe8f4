/**
 * The local server's stand-in for presigned S3 PUTs (POST /datasets with {name, bytes}): a URL on the
 * server itself, `/uploads/<key>?bytes=&expires=&signature=`, whose HMAC (keyed by a secret derived
 * from the API key) covers the key, the size and the expiry. Like a presigned URL it needs no other
 * credential, works until it expires, and stores exactly `bytes` bytes at that key, once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ObjectStoreError } from '../../shared/object-store.ts';
import { type Registry, RegistryError } from '../../shared/registry/index.ts';
import { problemBody } from '../http/problem.ts';

export const UPLOAD_PATH = '/uploads/';

export interface SignedUploads {
  /** AppDeps.signUploadUrl: a URL that PUTs `bytes` bytes to `key` until `expiresInSeconds` from now. */
  sign(key: string, bytes: number, expiresInSeconds: number): Promise<string>;
  /** Whether a request is for this handler. */
  matches(req: Request): boolean;
  handle(req: Request): Promise<Response>;
}

export interface SignedUploadsOptions {
  registry: Registry;
  apiKey: string;
  /** http://host:port of the server, once it listens. */
  baseUrl: () => string;
  now?: () => Date;
}

function problem(status: number, code: string, detail: string, path: string): Response {
  return new Response(JSON.stringify(problemBody(status, code, detail, path)), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });
}

/** Fails the stream as soon as more than `max` bytes pass (the store checks the exact total). */
function atMost(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > max ? new ObjectStoreError(`the upload is longer than the ${max} bytes it was signed for`, 'invalid') : null, chunk);
    },
  });
}

export function signedUploads(o: SignedUploadsOptions): SignedUploads {
  // A secret of its own, derived from the API key: URLs outlive a restart, and die with the key.
  const secret = createHmac('sha256', o.apiKey).update('adapter-store signed uploads').digest();
  const now = o.now ?? (() => new Date());
  const signature = (key: string, bytes: number, expires: number) =>
    createHmac('sha256', secret).update(`PUT\n${key}\n${bytes}\n${expires}`).digest();

  return {
    async sign(key, bytes, expiresInSeconds) {
      const expires = Math.floor(now().getTime() / 1000) + expiresInSeconds;
      const path = key.split('/').map(encodeURIComponent).join('/');
      return `${o.baseUrl()}${UPLOAD_PATH}${path}?bytes=${bytes}&expires=${expires}&signature=${signature(key, bytes, expires).toString('hex')}`;
    },

    matches: (req) => new URL(req.url).pathname.startsWith(UPLOAD_PATH),

    async handle(req) {
      const url = new URL(req.url);
      const path = url.pathname;
      if (req.method !== 'PUT') return problem(405, 'method-not-allowed', `${req.method} is not allowed on ${path}; allowed: PUT`, path);
      let key: string;
      try {
        key = path.slice(UPLOAD_PATH.length).split('/').map(decodeURIComponent).join('/');
      } catch {
        return problem(400, 'malformed-request', 'the upload path is not valid URL encoding', path);
      }
      const bytes = Number(url.searchParams.get('bytes'));
      const expires = Number(url.searchParams.get('expires'));
      const given = Buffer.from(url.searchParams.get('signature') ?? '', 'hex');
      const expected = signature(key, bytes, expires);
      if (
        !Number.isSafeInteger(bytes) ||
        !Number.isSafeInteger(expires) ||
        given.length !== expected.length ||
        !timingSafeEqual(given, expected)
      ) {
        return problem(403, 'bad-signature', 'this upload URL is not one the server signed (or was altered)', path);
      }
      if (expires * 1000 < now().getTime())
        return problem(403, 'expired', 'this upload URL has expired; ask POST /datasets for a new one', path);
      const length = req.headers.get('content-length');
      if (length !== null && Number(length) !== bytes)
        return problem(400, 'wrong-length', `the URL was signed for ${bytes} bytes, the body has ${length}`, path);
      if (!req.body) return problem(400, 'wrong-length', `the URL was signed for ${bytes} bytes, the body is empty`, path);
      try {
        const body = atMost(bytes);
        // A client that goes away mid-body fails the write (pipeline destroys `body` too): nothing is stored.
        pipeline(Readable.fromWeb(req.body as import('node:stream/web').ReadableStream<Uint8Array>), body).catch(() => {});
        await o.registry.datasets.putUpload(key, body, bytes);
      } catch (err) {
        if (!(err instanceof RegistryError) || err.code === 'storage') throw err;
        const status = err.code === 'conflict' ? 412 : err.code === 'not-found' ? 404 : 400;
        return problem(status, err.code === 'conflict' ? 'precondition-failed' : 'invalid-upload', err.message, path);
      }
      return new Response(null, { status: 200 });
    },
  };
}
