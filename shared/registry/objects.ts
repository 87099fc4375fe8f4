/**
 * The object plumbing every store of the registry shares: reads and writes with the object store's
 * errors turned into RegistryErrors, whole listings, streamed copies between keys and local files, and
 * what names an object to a client (its s3:// URI, presigned URLs, messages without local paths).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileObjectStore } from '../file-object-store.ts';
import {
  type ListOptions,
  type ListPage,
  type ObjectBody,
  type ObjectStore,
  ObjectStoreError,
  type PutOptions,
  readAll,
} from '../object-store.ts';
import { RegistryError } from './error.ts';
import { RegistryLayout } from './layout.ts';

export interface RegistryLocation {
  bucket: string;
  /** Key prefix inside the bucket ('' or ending in '/'). */
  prefix: string;
}

/** An object store's error as the registry's (other errors pass through). */
export function registryError(err: unknown): unknown {
  if (!(err instanceof ObjectStoreError)) return err;
  return new RegistryError(err.message, err.code);
}

const rethrow = (err: unknown): never => {
  throw registryError(err);
};

export class RegistryObjects {
  readonly layout: RegistryLayout;

  constructor(
    readonly store: ObjectStore,
    /** Key prefix inside the store ('' or ending in '/'). */
    readonly prefix = '',
  ) {
    this.layout = new RegistryLayout(prefix);
  }

  get location(): RegistryLocation {
    return { bucket: this.store.bucket, prefix: this.prefix };
  }

  /** The registry as a URI: s3://bucket[/prefix] or file:///directory. */
  get uri(): string {
    return `${this.store.uri}/${this.prefix}`.replace(/\/$/, '');
  }

  /** The s3:// URI of a registry key. */
  uriOf(key: string): string {
    return `s3://${this.store.bucket}/${key}`;
  }

  // --- reads and writes ------------------------------------------------------------------------------

  async put(key: string, body: Buffer | string | Readable, o: PutOptions = {}): Promise<void> {
    await this.store.put(key, body, o).catch(rethrow);
  }

  /** JSON, pretty-printed, as application/json. */
  async putJson(key: string, value: unknown, o: PutOptions = {}): Promise<void> {
    await this.put(key, JSON.stringify(value, null, 2), { ...o, contentType: 'application/json' });
  }

  async delete(key: string): Promise<void> {
    await this.store.delete(key).catch(rethrow);
  }

  /** The object, streamed (null when there is none). */
  async get(key: string): Promise<ObjectBody | null> {
    return this.store.get(key).catch(rethrow);
  }

  async getBuffer(key: string): Promise<Buffer | null> {
    try {
      const body = await this.store.get(key);
      return body && (await readAll(body));
    } catch (err) {
      if (err instanceof ObjectStoreError) throw registryError(err);
      throw new RegistryError(`reading ${this.uriOf(key)} failed: ${(err as Error).message}`, 'storage');
    }
  }

  async getJson<T>(key: string): Promise<T | null> {
    const body = await this.getBuffer(key);
    if (!body) return null;
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw new RegistryError(`${this.uriOf(key)} is not valid JSON`, 'corrupt');
    }
  }

  // --- listings --------------------------------------------------------------------------------------

  async listPage(o: ListOptions): Promise<ListPage> {
    return this.store.listPage(o).catch(rethrow);
  }

  /** Every key under a prefix (all pages), and the common prefixes one level down when `delimiter`. */
  async list(prefix: string, delimiter?: '/'): Promise<{ keys: { key: string; size: number }[]; prefixes: string[] }> {
    const keys: { key: string; size: number }[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.listPage({ prefix, delimiter, continuationToken: token });
      keys.push(...page.keys);
      prefixes.push(...page.prefixes);
      token = page.next;
    } while (token);
    return { keys, prefixes };
  }

  // --- between keys and local files ------------------------------------------------------------------

  /** Copies every object directly under `prefix` into `dir` (streamed); returns how many there were. */
  async downloadPrefix(prefix: string, dir: string): Promise<number> {
    const { keys } = await this.list(prefix);
    const flat = keys.filter((k) => !k.key.slice(prefix.length).includes('/'));
    if (flat.length === 0) return 0;
    await mkdir(dir, { recursive: true });
    for (const { key } of flat) {
      const body = await this.get(key);
      if (!body) throw new RegistryError(`${this.uriOf(key)}: no such object`, 'not-found');
      await pipeline(body.stream, createWriteStream(join(dir, key.slice(prefix.length)))).catch((err: unknown) => {
        throw new RegistryError(`reading ${this.uriOf(key)} failed: ${(err as Error).message}`, 'storage');
      });
    }
    return flat.length;
  }

  /** Uploads local files under `prefix` in the given order, streamed; create-only when `immutable`. */
  async uploadFiles(dir: string, prefix: string, names: readonly string[], immutable: boolean): Promise<void> {
    for (const name of names) {
      const { size } = await stat(join(dir, name));
      await this.put(prefix + name, createReadStream(join(dir, name)), { length: size, ifNoneMatch: immutable });
    }
  }

  // --- what names an object to a client --------------------------------------------------------------

  /**
   * Whether s3://bucket/key exists (any bucket this registry's store can read): 'missing' when not,
   * 'forbidden' when it may not be read (S3 answers 403 for a missing key too when the caller may not
   * list the bucket; a local store reads no other bucket).
   */
  async objectState(bucket: string, key: string): Promise<'exists' | 'missing' | 'forbidden'> {
    return this.store.objectState(bucket, key).catch(rethrow);
  }

  /** A presigned GET of a registry key (downloads redirected to S3). */
  presignGet(key: string, expiresInSeconds: number): Promise<string> {
    if (!this.store.presignGet)
      throw new RegistryError(`${this.uriOf(this.prefix)} cannot presign URLs (only an S3 registry can)`, 'invalid');
    return this.store.presignGet(key, expiresInSeconds);
  }

  /** A presigned PUT of exactly `bytes` bytes to a registry key (the size is signed: S3 refuses others). */
  presignPut(key: string, bytes: number, expiresInSeconds: number): Promise<string> {
    if (!this.store.presignPut)
      throw new RegistryError(`${this.uriOf(this.prefix)} cannot presign URLs (only an S3 registry can)`, 'invalid');
    return this.store.presignPut(key, bytes, expiresInSeconds);
  }

  /**
   * A message for clients: a local registry's directory (as a file:// URL or a path) becomes its s3://
   * name, so error details name keys, never the server's paths (whatever module wrote the message).
   */
  withoutLocalPaths(text: string): string {
    if (!(this.store instanceof FileObjectStore)) return text;
    const bucket = `s3://${this.store.bucket}`;
    return text.split(this.store.uri).join(bucket).split(this.store.root).join(bucket);
  }
}
