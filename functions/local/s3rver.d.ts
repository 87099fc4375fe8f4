// The slice of s3rver 3.7.1 (a Koa app; it ships no types) that the embedded store uses.
declare module 's3rver' {
  import type { IncomingHttpHeaders } from 'node:http';

  export interface S3rverContext {
    method: string;
    path: string;
    query: Record<string, string | string[] | undefined>;
    headers: IncomingHttpHeaders;
    status: number;
    type: string;
    body: unknown;
  }
  export type S3rverMiddleware = (ctx: S3rverContext, next: () => Promise<void>) => Promise<void>;

  /** What s3rver's controllers hand the store to write. */
  export interface StoredObject {
    bucket: string;
    key: string;
    content: Buffer | NodeJS.ReadableStream;
    metadata: Record<string, string>;
  }

  export interface FilesystemStore {
    existsObject(bucket: string, key: string): Promise<boolean>;
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
    putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
    /** `content` is an opened fs.ReadStream (or null for an unsatisfiable range); null when missing. */
    getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<{ content: (import('node:stream').Readable & { fd?: number | null }) | null; metadata: Record<string, string | number> } | null>;
    putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
  }

  export interface S3rverOptions {
    address?: string;
    port?: number;
    directory: string;
    silent?: boolean;
    configureBuckets?: { name: string }[];
  }

  export default class S3rver {
    constructor(options: S3rverOptions);
    /** Koa's middleware stack, composed when the server starts listening. */
    middleware: S3rverMiddleware[];
    store: FilesystemStore;
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }
}
