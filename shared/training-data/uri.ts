/**
 * Where a dataset lives: a local path, a `file://` URL, or `s3://bucket/key` (read with the AWS SDK; the
 * endpoint, region and credentials come from the standard AWS environment, so AWS, LocalStack and any
 * S3-compatible server work alike). Either way the bytes are streamed, never read whole.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { DataError } from './errors.ts';

export type DatasetLocation = { kind: 'file'; path: string; uri: string } | { kind: 's3'; bucket: string; key: string; uri: string };

// S3's bucket naming rules (3-63 characters; lower-case letters, digits, dots and hyphens; a letter or
// digit at each end).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses a dataset URI; anything but a local path, `file://` or `s3://bucket/key` is a DataError naming the scheme. */
export function parseDatasetUri(uri: string): DatasetLocation {
  if (typeof uri !== 'string' || uri.trim() === '') throw new DataError('dataset: empty path or URI');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]+):/.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 's3') {
    const m = /^s3:\/\/([^/]+)\/(.+)$/i.exec(uri);
    if (!m) throw new DataError(`${uri}: an S3 dataset URI must look like s3://bucket/key`);
    if (!BUCKET.test(m[1])) throw new DataError(`${uri}: "${m[1]}" is not a valid S3 bucket name`);
    if (m[2].endsWith('/')) throw new DataError(`${uri}: the key names a folder; give the object's key`);
    return { kind: 's3', bucket: m[1], key: m[2], uri };
  }
  if (scheme === 'file') {
    let path: string;
    try {
      path = fileURLToPath(new URL(uri));
    } catch (err) {
      throw new DataError(`${uri}: not a usable file:// URL (${(err as Error).message})`);
    }
    return { kind: 'file', path, uri };
  }
  // Two or more letters then "://" is a URL with a scheme this reader does not speak (a one-letter
  // "scheme" would be a Windows drive).
  if (scheme !== undefined && uri.slice(scheme.length + 1).startsWith('//')) {
    throw new DataError(`${uri}: unsupported scheme "${scheme}:" (datasets are a local path, file:// or s3://bucket/key)`);
  }
  return { kind: 'file', path: uri, uri };
}

export interface DatasetStream {
  /** The raw bytes. The caller reads it to the end or destroys it. */
  stream: Readable;
  /** What messages call the dataset: the local path, or the s3:// URI. */
  name: string;
  /** Size in bytes, when known up front. */
  bytes?: number;
}

export interface OpenOptions {
  /** The S3 client to use; by default one from the standard AWS environment (shared/s3-client.ts). */
  s3?: S3Client;
}

/** Opens a dataset's bytes as a stream. Unreadable files and missing objects are DataErrors naming the URI. */
export async function openDatasetStream(uri: string, o: OpenOptions = {}): Promise<DatasetStream> {
  const loc = parseDatasetUri(uri);
  // The SDK loads only when an s3:// dataset is read (the local server's datasets are files).
  return loc.kind === 'file' ? openFile(loc.path) : openS3(loc, o.s3 ?? (await import('../s3-client.ts')).s3ClientFromEnv());
}

async function openFile(path: string): Promise<DatasetStream> {
  // stat first: a missing file or a directory gets a DataError rather than a stream error mid-read.
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new DataError(`${path}: not a file`);
    size = s.size;
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 });
  // Surface open errors (EACCES) now rather than on the first read.
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (err: NodeJS.ErrnoException) => reject(new DataError(`${path}: cannot read (${err.code ?? err.message})`)));
  });
  return { stream, name: path, bytes: size };
}

async function openS3(loc: Extract<DatasetLocation, { kind: 's3' }>, s3: S3Client): Promise<DatasetStream> {
  const name = `s3://${loc.bucket}/${loc.key}`;
  try {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const r = await s3.send(new GetObjectCommand({ Bucket: loc.bucket, Key: loc.key }));
    const body = r.Body as Readable | undefined;
    if (!body || typeof body.pipe !== 'function') throw new DataError(`${name}: the S3 response has no readable body`);
    return { stream: body, name, bytes: r.ContentLength };
  } catch (err) {
    throw s3Error(err, loc, name);
  }
}

/** S3 failures in a user's terms. */
function s3Error(err: unknown, loc: { bucket: string; key: string }, name: string): DataError {
  if (err instanceof DataError) return err;
  const e = err as Error & { Code?: string; code?: string };
  // An S3ServiceException carries $metadata (checked by shape: the SDK is loaded lazily).
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const code = status !== undefined ? e.name : (e.code ?? e.name);
  let message: string;
  if (code === 'NoSuchKey' || (status === 404 && code !== 'NoSuchBucket'))
    message = `${name}: no such object (NoSuchKey: bucket "${loc.bucket}" has no key "${loc.key}")`;
  else if (code === 'NoSuchBucket') message = `${name}: no such bucket "${loc.bucket}" (NoSuchBucket)`;
  else if (code === 'AccessDenied' || code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || status === 403) {
    message = `${name}: access denied (${code}); check the AWS credentials and the bucket policy`;
  } else if (code === 'CredentialsProviderError') message = `${name}: no AWS credentials found (${e.message})`;
  else if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNRESET' || code === 'ETIMEDOUT') {
    message = `${name}: cannot reach the S3 endpoint (${code}${e.message && e.message !== code ? `: ${e.message}` : ''})`;
  } else message = `${name}: cannot read (${code ?? 'error'}: ${e.message})`;
  return new DataError(message, { cause: err });
}
