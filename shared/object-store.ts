/**
 * The small object-store interface the registry is written against: keys in one bucket, whole-object
 * writes (optionally create-only), streamed reads, ordered prefix listings a page at a time. Two
 * implementations: S3 (shared/s3-object-store.ts: AWS, LocalStack, any S3-compatible server) and a local
 * directory (shared/file-object-store.ts: `npm start`). Only shared/registry/ builds keys (layout.ts).
 */
import type { Readable } from 'node:stream';

export class ObjectStoreError extends Error {
  constructor(
    message: string,
    readonly code: 'conflict' | 'invalid' | 'storage',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface PutOptions {
  /** Create only: fail with an ObjectStoreError 'conflict' if the key exists (S3's If-None-Match: *). */
  ifNoneMatch?: boolean;
  /** Replace only this version (an `etag` from get): fail with 'conflict' if the object changed or is gone (S3's If-Match). */
  ifMatch?: string;
  contentType?: string;
  /** Body length in bytes; required for streams that should go up in one request. */
  length?: number;
}

export interface ObjectBody {
  stream: Readable;
  size: number;
  /** Names this version of the object (for a later put's ifMatch). */
  etag: string;
}

export interface ListOptions {
  prefix: string;
  /** '/': keys one level below `prefix` are listed, deeper ones rolled up into `prefixes`. */
  delimiter?: '/';
  /** Only keys (and prefixes) after this one. */
  startAfter?: string;
  /** At most this many keys and prefixes together (default and ceiling 1000, as on S3). */
  maxKeys?: number;
  /** `next` of the previous page. */
  continuationToken?: string;
}

export interface ListPage {
  /** In ascending key order (byte order of the UTF-8 key). */
  keys: { key: string; size: number }[];
  prefixes: string[];
  /** Set when more follow: pass it as continuationToken. */
  next?: string;
}

export interface ObjectStore {
  /** The bucket the keys live in: registry objects are named s3://<bucket>/<key> whatever the store. */
  readonly bucket: string;
  /** The store as a registry URI: s3://bucket or file:///directory. */
  readonly uri: string;
  put(key: string, body: Buffer | string | Readable, o?: PutOptions): Promise<void>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<ObjectBody | null>;
  listPage(o: ListOptions): Promise<ListPage>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Whether s3://bucket/key exists, for any bucket (datasets may live outside the registry's). */
  objectState(bucket: string, key: string): Promise<'exists' | 'missing' | 'forbidden'>;
  /** A URI the trainer's dataset reader opens for s3://bucket/key (the store's own objects may be local files). */
  readableUri(bucket: string, key: string): string;
  /** A short-lived URL that GETs the key without other credentials (S3 only). */
  presignGet?(key: string, expiresInSeconds: number): Promise<string>;
  /** A short-lived URL that PUTs exactly `bytes` bytes to the key (S3 only). */
  presignPut?(key: string, bytes: number, expiresInSeconds: number): Promise<string>;
}

/** Reads a whole object into memory (small objects: JSON records, manifests). */
export async function readAll(body: ObjectBody): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body.stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
