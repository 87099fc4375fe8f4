/**
 * The registry: the object layout (layout.ts, pure) and every read and write of it, one store per concern
 * (registry.jobs, .adapters, .models, .datasets, .idempotency) over shared object plumbing (objects.ts),
 * over a small object-store interface (shared/object-store.ts) with two implementations: S3
 * (`s3://bucket[/prefix]`: AWS S3, LocalStack or any S3-compatible server; endpoint and credentials from
 * the standard AWS environment) and a local directory (`file:///path`: `npm start`; the directory's name
 * is the bucket name in the s3:// URIs of its objects).
 */
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { FileObjectStore } from '../file-object-store.ts';
import type { ObjectStore } from '../object-store.ts';
import { S3ObjectStore } from '../s3-object-store.ts';
import { AdapterStore, type AdapterStoreOptions, DEFAULT_LATEST_TTL_MS } from './adapters.ts';
import { DatasetStore } from './datasets.ts';
import { RegistryError } from './error.ts';
import { IdempotencyStore } from './idempotency.ts';
import { JobStore } from './jobs.ts';
import { BUCKET_RE } from './layout.ts';
import { parseRegistryUri } from './location.ts';
import { ModelStore } from './models.ts';
import { type RegistryLocation, RegistryObjects } from './objects.ts';

export { MULTIPART_THRESHOLD } from '../s3-object-store.ts';
export { type AdapterStore, type AdapterStoreOptions, DEFAULT_LATEST_TTL_MS, type LatestVersion } from './adapters.ts';
export type { DatasetStore } from './datasets.ts';
export { RegistryError } from './error.ts';
export type { IdempotencyStore } from './idempotency.ts';
export type { JobStore } from './jobs.ts';
export {
  ADAPTER_FILES,
  BASE_MODEL_FILES,
  type BaseModelFile,
  CHECKPOINT_FOLDER,
  contentTypeOf,
  DATASET_NAME_RE,
  JOB_EVENTS_FOLDER,
  JOB_FILES,
  JOB_POINTS_FOLDER,
  MAX_VERSION_CLOCK_SKEW_MS,
  newVersionId,
  OPTIONAL_ADAPTER_FILES,
  PREFIXES,
  versionTime,
} from './layout.ts';
export { LOCAL_REGISTRY_FOLDER, localRegistryUri, localStoreDir, parseRegistryUri } from './location.ts';
export type { ModelStore } from './models.ts';
export type { RegistryLocation } from './objects.ts';

export type RegistryOptions = AdapterStoreOptions;

/** Sets how long latest(task) is remembered (ms; 0: never), in every process that serves adapters. */
export const LATEST_TTL_ENV = 'ADAPTER_STORE_LATEST_TTL_MS';

/** latest(task)'s TTL from the environment: a whole number of ms, the default when unset. */
export function latestTtlMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[LATEST_TTL_ENV];
  if (raw === undefined || raw === '') return DEFAULT_LATEST_TTL_MS;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw new RegistryError(`${LATEST_TTL_ENV} must be a whole number of milliseconds (0 or more), got "${raw}"`, 'invalid');
  return ms;
}

export class Registry {
  /** What every store shares: keys, reads and writes, listings, URIs. */
  readonly objects: RegistryObjects;
  /** jobs/<id>/... and job-index/...: specs, statuses, cancels, launches, checkpoints, sweep points, events. */
  readonly jobs: JobStore;
  /** adapters/<task>/<version>/...: publish, versions, manifests, latest(task), files. */
  readonly adapters: AdapterStore;
  /** models/<name>/...: base models. */
  readonly models: ModelStore;
  /** datasets/...: uploaded datasets. */
  readonly datasets: DatasetStore;
  /** idempotency/...: Idempotency-Key claims. */
  readonly idempotency: IdempotencyStore;

  constructor(
    store: ObjectStore,
    /** Key prefix inside the store ('' or ending in '/'). */
    prefix = '',
    o: RegistryOptions = {},
  ) {
    this.objects = new RegistryObjects(store, prefix);
    this.jobs = new JobStore(this.objects);
    this.adapters = new AdapterStore(this.objects, o);
    this.models = new ModelStore(this.objects);
    this.datasets = new DatasetStore(this.objects);
    this.idempotency = new IdempotencyStore(this.objects);
  }

  /**
   * `s3://bucket[/prefix]` (with `client`, or one from the AWS environment) or `file:///directory`.
   * latest(task)'s TTL comes from ADAPTER_STORE_LATEST_TTL_MS unless `o` sets it.
   */
  static fromUri(uri: string, client?: S3Client, o: RegistryOptions = {}): Registry {
    const options = { ...o, latestTtlMs: o.latestTtlMs ?? latestTtlMsFromEnv() };
    if (uri.startsWith('file:')) {
      let dir: string;
      try {
        dir = fileURLToPath(uri);
      } catch (err) {
        throw new RegistryError(`registry "${uri}" is not a usable file:// URL (${(err as Error).message})`, 'invalid');
      }
      const store = new FileObjectStore(dir);
      if (!BUCKET_RE.test(store.bucket)) {
        throw new RegistryError(
          `registry "${uri}": the directory's name "${store.bucket}" names its objects (s3://<name>/...) and must be 3-63 characters of a-z, 0-9, "." or "-"`,
          'invalid',
        );
      }
      return new Registry(store, '', options);
    }
    const { bucket, prefix } = parseRegistryUri(uri);
    return new Registry(new S3ObjectStore(client, bucket), prefix, options);
  }

  // The plumbing clients of the registry use directly (objects.ts).

  get store(): ObjectStore {
    return this.objects.store;
  }

  /** Key prefix inside the store ('' or ending in '/'). */
  get prefix(): string {
    return this.objects.prefix;
  }

  get location(): RegistryLocation {
    return this.objects.location;
  }

  get uri(): string {
    return this.objects.uri;
  }

  /** The s3:// URI of a registry key. */
  uriOf(key: string): string {
    return this.objects.uriOf(key);
  }

  /** Every key under a prefix (all pages), and the common prefixes one level down when `delimiter`. */
  list(prefix: string, delimiter?: '/'): ReturnType<RegistryObjects['list']> {
    return this.objects.list(prefix, delimiter);
  }

  /** Whether s3://bucket/key exists: see RegistryObjects.objectState. */
  objectState(bucket: string, key: string): Promise<'exists' | 'missing' | 'forbidden'> {
    return this.objects.objectState(bucket, key);
  }

  presignGet(key: string, expiresInSeconds: number): Promise<string> {
    return this.objects.presignGet(key, expiresInSeconds);
  }

  presignPut(key: string, bytes: number, expiresInSeconds: number): Promise<string> {
    return this.objects.presignPut(key, bytes, expiresInSeconds);
  }

  /** A message for clients with a local registry's paths as its s3:// name (RegistryObjects.withoutLocalPaths). */
  withoutLocalPaths(text: string): string {
    return this.objects.withoutLocalPaths(text);
  }
}
