/**
 * The object store over the S3 API with the AWS SDK: AWS S3, LocalStack or any S3-compatible server
 * (endpoint, region and credentials from the standard AWS environment). The SDK is loaded on first
 * use: a process on a local registry (`npm start`) never pays for it.
 */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { type ListOptions, type ListPage, type ObjectBody, type ObjectStore, ObjectStoreError, type PutOptions } from './object-store.ts';

/** Objects larger than this go up as multipart uploads of MULTIPART_PART_BYTES parts. */
export const MULTIPART_THRESHOLD = 8 * 1024 * 1024;
const MULTIPART_PART_BYTES = 8 * 1024 * 1024;

/** The HTTP status of an SDK service error (S3ServiceException's $metadata), else undefined. */
function statusCode(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

const sdk = () => import('@aws-sdk/client-s3');

export class S3ObjectStore implements ObjectStore {
  private s3: Promise<S3Client> | undefined;

  /** Without a client, one from the standard AWS environment is made on first use. */
  constructor(
    client: S3Client | undefined,
    readonly bucket: string,
  ) {
    if (client) this.s3 = Promise.resolve(client);
  }

  private client(): Promise<S3Client> {
    this.s3 ??= import('./s3-client.ts').then((m) => m.s3ClientFromEnv());
    return this.s3;
  }

  get uri(): string {
    return `s3://${this.bucket}`;
  }

  private name(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async put(key: string, body: Buffer | string | Readable, o: PutOptions = {}): Promise<void> {
    const size = o.length ?? (typeof body === 'string' ? Buffer.byteLength(body) : Buffer.isBuffer(body) ? body.length : undefined);
    const params = {
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentType: o.contentType,
      ContentLength: size,
      IfNoneMatch: o.ifNoneMatch ? '*' : undefined,
      IfMatch: o.ifMatch,
    };
    try {
      const client = await this.client();
      if (size !== undefined && size <= MULTIPART_THRESHOLD) await client.send(new (await sdk()).PutObjectCommand(params));
      // Base models are hundreds of MB: parts keep each request small (S3 caps single PUTs at 5 GiB,
      // S3-compatible servers far lower) and a failed part is retried alone. If-None-Match applies to the
      // completion, so an immutable object is still never overwritten.
      else {
        const { Upload } = await import('@aws-sdk/lib-storage');
        await new Upload({ client, params, partSize: MULTIPART_PART_BYTES, queueSize: 4, leavePartsOnError: false }).done();
      }
    } catch (err) {
      const code = statusCode(err);
      if (o.ifMatch !== undefined && (code === 412 || code === 409 || code === 404))
        throw new ObjectStoreError(`${this.name(key)} changed since it was read`, 'conflict', { cause: err });
      if (code === 412 || code === 409)
        throw new ObjectStoreError(`${this.name(key)} already exists and is immutable`, 'conflict', { cause: err });
      throw new ObjectStoreError(`writing ${this.name(key)} failed: ${(err as Error).message}`, 'storage', { cause: err });
    }
  }

  async get(key: string): Promise<ObjectBody | null> {
    try {
      const out = await (await this.client()).send(new (await sdk()).GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!out.Body) throw new Error('the response has no body');
      return { stream: out.Body as Readable, size: out.ContentLength ?? 0, etag: out.ETag ?? '' };
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw new ObjectStoreError(`reading ${this.name(key)} failed: ${(err as Error).message}`, 'storage', { cause: err });
    }
  }

  async listPage(o: ListOptions): Promise<ListPage> {
    try {
      const page = await (await this.client()).send(
        new (await sdk()).ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: o.prefix,
          Delimiter: o.delimiter,
          StartAfter: o.startAfter,
          MaxKeys: o.maxKeys,
          ContinuationToken: o.continuationToken,
        }),
      );
      return {
        keys: (page.Contents ?? []).map((c) => ({ key: c.Key!, size: c.Size ?? 0 })),
        prefixes: (page.CommonPrefixes ?? []).map((p) => p.Prefix!),
        next: page.IsTruncated ? page.NextContinuationToken : undefined,
      };
    } catch (err) {
      throw new ObjectStoreError(`listing ${this.name(o.prefix)} failed: ${(err as Error).message}`, 'storage', { cause: err });
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await (await this.client()).send(new (await sdk()).DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      throw new ObjectStoreError(`deleting ${this.name(key)} failed: ${(err as Error).message}`, 'storage', { cause: err });
    }
  }

  /** 'missing' on 404, 'forbidden' on 403 (S3 answers 403 for a missing key too when the caller may not list the bucket). */
  async objectState(bucket: string, key: string): Promise<'exists' | 'missing' | 'forbidden'> {
    try {
      await (await this.client()).send(new (await sdk()).HeadObjectCommand({ Bucket: bucket, Key: key }));
      return 'exists';
    } catch (err) {
      const code = statusCode(err);
      if (code === 404) return 'missing';
      if (code === 403) return 'forbidden';
      throw new ObjectStoreError(`checking s3://${bucket}/${key} failed: ${(err as Error).message}`, 'storage', { cause: err });
    }
  }

  readableUri(bucket: string, key: string): string {
    return `s3://${bucket}/${key}`;
  }

  async presignGet(key: string, expiresInSeconds: number): Promise<string> {
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    return getSignedUrl(await this.client(), new (await sdk()).GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: expiresInSeconds,
    });
  }

  /** The size is signed: S3 refuses a body of another length. */
  async presignPut(key: string, bytes: number, expiresInSeconds: number): Promise<string> {
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    return getSignedUrl(await this.client(), new (await sdk()).PutObjectCommand({ Bucket: this.bucket, Key: key, ContentLength: bytes }), {
      expiresIn: expiresInSeconds,
    });
  }
}
