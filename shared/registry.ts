/**
 * The registry: one module owns the object layout and every read and write of it, over a small
 * object-store interface (shared/object-store.ts) with two implementations: S3 (`s3://bucket[/prefix]`:
 * AWS S3, LocalStack or any S3-compatible server; endpoint and credentials from the standard AWS
 * environment) and a local directory (`file:///path`: `npm start`; the directory's name is the bucket
 * name in the s3:// URIs of its objects).
 *
 *   models/<name>/{config.json, model.safetensors, vocab.txt | tokenizer.json, ...}
 *   jobs/<id>/spec.json       what was asked (written once)
 *   jobs/<id>/status.json     what the trainer reports (rewritten as it goes)
 *   jobs/<id>/cancel.json     a cancel request (written once, by the API only)
 *   jobs/<id>/launch.json     the launcher's handle (Batch job id, local pid), for cancel and describe
 *   jobs/<id>/checkpoint/     the trainer's resumable state, for retried jobs: <step>/{tensors.safetensors,
 *                             state.json} (create-only) and latest.json naming the folder to resume from
 *   jobs/<id>/events/<seq>.json  the job's event log: immutable pages of events (create-only, seq 0, 1, ...)
 *   jobs/<id>/points/<i>/     a sweep's point i: status.json, checkpoint/, and adapter/ (staged; only the
 *                             reduce step publishes the best point's as a version)
 *   idempotency/<sha256>.json the job an Idempotency-Key created (conditional write)
 *   job-index/{all,task/<task>}/<inverted time>-<id>  empty markers: job listings newest first
 *   datasets/<sha256[:16]>/<name>      uploaded datasets (POST /datasets), content-addressed
 *   datasets/uploads/<id>/<name>       datasets uploaded by presigned (or signed local) PUT
 *   adapters/<task>/<version>/{adapter.safetensors, adapter_config.json, metrics.json, manifest.json}
 *
 * A version is visible once its manifest exists; the manifest is written last. Versions are never
 * overwritten: every object of a version is written create-only (If-None-Match: * on S3; servers that
 * ignore the header still cannot collide, since version ids carry a millisecond timestamp and 64
 * random bits). The infrastructure (cdk/registry.ts) grants access by the prefixes exported here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { CHECKPOINT_FILES, CHECKPOINT_POINTER, type CheckpointPointer, parseCheckpointPointer } from './checkpoint-layout.ts';
import { FileObjectStore } from './file-object-store.ts';
import type { JobSpec, JobStatus, PointStatus } from './job.ts';
import {
  JOB_EVENT_ID_RE,
  JOB_EVENT_SEQ_DIGITS,
  type JobEventPage,
  type JobEventRecord,
  jobEventId,
  MAX_EVENTS_PER_PAGE,
  type NewJobEvent,
} from './job-events.ts';
import type { AdapterManifest, ManifestFile } from './manifest.ts';
import { type ObjectBody, type ObjectStore, ObjectStoreError, type PutOptions, readAll } from './object-store.ts';
import { S3ObjectStore } from './s3-object-store.ts';
import { FileMismatchError, verifiedBody } from './verified-body.ts';

export { MULTIPART_THRESHOLD } from './s3-object-store.ts';

/** The top-level prefixes of the layout (the IAM grants in cdk/ are built from these too). */
export const PREFIXES = {
  models: 'models/',
  jobs: 'jobs/',
  jobIndex: 'job-index/',
  idempotency: 'idempotency/',
  datasets: 'datasets/',
  datasetUploads: 'datasets/uploads/',
  adapters: 'adapters/',
} as const;

/** The objects of jobs/<id>/, and the folder of its checkpoint. */
export const JOB_FILES = { spec: 'spec.json', status: 'status.json', cancel: 'cancel.json', launch: 'launch.json' } as const;
export const CHECKPOINT_FOLDER = 'checkpoint/';
export const JOB_EVENTS_FOLDER = 'events/';
export const JOB_POINTS_FOLDER = 'points/';
const POINT_ADAPTER_FOLDER = 'adapter/';

/** The files of an adapter directory that a version holds: the required ones, then the optional ones present. */
function adapterFilesIn(dir: string): string[] {
  return [...ADAPTER_FILES, ...OPTIONAL_ADAPTER_FILES.filter((name) => existsSync(join(dir, name)))];
}

/** The folder of a sweep point inside its job's (empty for the job itself). */
function pointFolder(point: number | undefined): string {
  if (point === undefined) return '';
  if (!Number.isSafeInteger(point) || point < 0) throw new RegistryError(`sweep point ${point} is not an index`, 'invalid');
  return `${JOB_POINTS_FOLDER}${point}/`;
}

/** What every adapter version holds. */
export const ADAPTER_FILES = ['adapter.safetensors', 'adapter_config.json', 'metrics.json'] as const;
/**
 * What a version holds when its directory has it: the Python `adapters` library's files (weights as .bin and
 * safetensors, head config), the trained LayerNorms (absent when they were frozen) and the model card.
 */
export const OPTIONAL_ADAPTER_FILES = [
  'README.md',
  'pytorch_adapter.bin',
  'head_config.json',
  'pytorch_model_head.bin',
  'model_head.safetensors',
  'layernorms.safetensors',
] as const;

/** The files of a base a client may fetch one by one (GET /models/:name/files/:file): config, weights, tokenizer. */
export const BASE_MODEL_FILES = ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer.json', 'tokenizer_config.json'] as const;
export type BaseModelFile = (typeof BASE_MODEL_FILES)[number];

export class RegistryError extends Error {
  constructor(
    message: string,
    /** corrupt: an object the registry wrote is not what it wrote (a bad manifest); skip it, never serve it. */
    readonly code: 'not-found' | 'conflict' | 'invalid' | 'storage' | 'corrupt',
  ) {
    super(message);
  }
}

export interface RegistryLocation {
  bucket: string;
  /** Key prefix inside the bucket ('' or ending in '/'). */
  prefix: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `s3://bucket` or `s3://bucket/some/prefix`. */
export function parseRegistryUri(uri: string): RegistryLocation {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri);
  if (!m || !BUCKET.test(m[1]))
    throw new RegistryError(`registry "${uri}" must look like s3://bucket, s3://bucket/prefix or file:///directory`, 'invalid');
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: m[1], prefix: prefix ? `${prefix}/` : '' };
}

/** The registry's directory inside a local store (npm start's): its name is the bucket of its s3:// URIs. */
export const LOCAL_REGISTRY_FOLDER = 'adapter-store';

/** The local server's store: $ADAPTER_STORE_DIR, else `.adapter-store` in the working directory. */
export function localStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.ADAPTER_STORE_DIR || '.adapter-store');
}

/** The file:// URI of the registry inside a local store. */
export function localRegistryUri(storeDir: string): string {
  return pathToFileURL(join(storeDir, LOCAL_REGISTRY_FOLDER)).href;
}

/** Sortable and unique without a coordinator: UTC timestamp to the millisecond + 64 random bits. */
export function newVersionId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace('.', '')}-${randomBytes(8).toString('hex')}`;
}

const SLUG = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Dataset file names: 1-128 characters of letters, digits, ".", "_", "-", starting with a letter or digit. */
export const DATASET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function datasetName(name: string): string {
  if (!DATASET_NAME_RE.test(name) || name.includes('..'))
    throw new RegistryError(
      `dataset name "${name}" must be 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit`,
      'invalid',
    );
  return name;
}

function slug(kind: string, value: string): string {
  if (!SLUG.test(value))
    throw new RegistryError(
      `${kind} "${value}" must be 1-64 characters of a-z, 0-9, "_" or "-", starting with a letter or digit`,
      'invalid',
    );
  return value;
}

const VERSION = /^\d{8}T\d{9}Z-[0-9a-f]{16}$/;

/**
 * How far ahead of this clock a version's time may be and still count (clocks of hosts differ). A version
 * dated later claims to be the newest forever: it is never visible, and never published.
 */
export const MAX_VERSION_CLOCK_SKEW_MS = 5 * 60_000;

/** The time a version id was made (ms since the epoch). */
export function versionTime(version: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-/.exec(version);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]);
}

const fromTheFuture = (version: string, now: number): boolean => !(versionTime(version) <= now + MAX_VERSION_CLOCK_SKEW_MS);

/** Job-index times count down from here (ms, the year 5188: nine base-36 digits). */
const MAX_INDEX_TIME = 36 ** 9 - 1;

/** Manifests kept in memory after a read: they never change once written. */
const MANIFEST_CACHE_ENTRIES = 1024;

function registryError(err: unknown): unknown {
  if (!(err instanceof ObjectStoreError)) return err;
  return new RegistryError(err.message, err.code);
}

export class Registry {
  /** Manifests read so far, least recently used first (a Map keeps insertion order). */
  private readonly manifests = new Map<string, AdapterManifest>();

  constructor(
    readonly store: ObjectStore,
    /** Key prefix inside the store ('' or ending in '/'). */
    readonly prefix = '',
  ) {}

  /** `s3://bucket[/prefix]` (with `client`, or one from the AWS environment) or `file:///directory`. */
  static fromUri(uri: string, client?: S3Client): Registry {
    if (uri.startsWith('file:')) {
      let dir: string;
      try {
        dir = fileURLToPath(uri);
      } catch (err) {
        throw new RegistryError(`registry "${uri}" is not a usable file:// URL (${(err as Error).message})`, 'invalid');
      }
      const store = new FileObjectStore(dir);
      if (!BUCKET.test(store.bucket)) {
        throw new RegistryError(
          `registry "${uri}": the directory's name "${store.bucket}" names its objects (s3://<name>/...) and must be 3-63 characters of a-z, 0-9, "." or "-"`,
          'invalid',
        );
      }
      return new Registry(store);
    }
    const { bucket, prefix } = parseRegistryUri(uri);
    return new Registry(new S3ObjectStore(client, bucket), prefix);
  }

  get location(): RegistryLocation {
    return { bucket: this.store.bucket, prefix: this.prefix };
  }

  get uri(): string {
    return `${this.store.uri}/${this.prefix}`.replace(/\/$/, '');
  }

  private key(...parts: string[]): string {
    return this.prefix + parts.join('/');
  }

  private jobKey(jobId: string, file: string): string {
    return this.key(PREFIXES.jobs + slug('job id', jobId), file);
  }

  // --- raw object access -------------------------------------------------------------------------

  private async put(key: string, body: Buffer | string | Readable, o: PutOptions = {}): Promise<void> {
    await this.store.put(key, body, o).catch((err: unknown) => {
      throw registryError(err);
    });
  }

  private async deleteObject(key: string): Promise<void> {
    await this.store.delete(key).catch((err: unknown) => {
      throw registryError(err);
    });
  }

  private async getBuffer(key: string): Promise<Buffer | null> {
    try {
      const body = await this.store.get(key);
      return body && (await readAll(body));
    } catch (err) {
      if (err instanceof ObjectStoreError) throw registryError(err);
      throw new RegistryError(`reading ${this.uriOf(key)} failed: ${(err as Error).message}`, 'storage');
    }
  }

  private async getJson<T>(key: string): Promise<T | null> {
    const body = await this.getBuffer(key);
    if (!body) return null;
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw new RegistryError(`${this.uriOf(key)} is not valid JSON`, 'corrupt');
    }
  }

  /** Every key under a prefix (all pages), and the common prefixes one level down when `delimiter`. */
  async list(prefix: string, delimiter?: '/'): Promise<{ keys: { key: string; size: number }[]; prefixes: string[] }> {
    const keys: { key: string; size: number }[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.store.listPage({ prefix, delimiter, continuationToken: token }).catch((err: unknown) => {
        throw registryError(err);
      });
      keys.push(...page.keys);
      prefixes.push(...page.prefixes);
      token = page.next;
    } while (token);
    return { keys, prefixes };
  }

  /** Copies every object directly under `prefix` into `dir` (streamed); returns how many there were. */
  private async downloadPrefix(prefix: string, dir: string): Promise<number> {
    const { keys } = await this.list(prefix);
    const flat = keys.filter((k) => !k.key.slice(prefix.length).includes('/'));
    if (flat.length === 0) return 0;
    await mkdir(dir, { recursive: true });
    for (const { key } of flat) {
      const body = await this.store.get(key).catch((err: unknown) => {
        throw registryError(err);
      });
      if (!body) throw new RegistryError(`${this.uriOf(key)}: no such object`, 'not-found');
      await pipeline(body.stream, createWriteStream(join(dir, key.slice(prefix.length)))).catch((err: unknown) => {
        throw new RegistryError(`reading ${this.uriOf(key)} failed: ${(err as Error).message}`, 'storage');
      });
    }
    return flat.length;
  }

  /** Uploads local files under `prefix` in the given order, streamed. */
  private async uploadFiles(dir: string, prefix: string, names: readonly string[], immutable: boolean): Promise<void> {
    for (const name of names) {
      const { size } = await stat(join(dir, name));
      await this.put(prefix + name, createReadStream(join(dir, name)), { length: size, ifNoneMatch: immutable });
    }
  }

  // --- jobs ----------------------------------------------------------------------------------------

  /** Writes the spec, then the job's entries in the listing index (all jobs, and its task's). */
  async putJobSpec(spec: JobSpec): Promise<void> {
    await this.put(this.jobKey(spec.jobId, JOB_FILES.spec), JSON.stringify(spec, null, 2), {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
    for (const scope of [['all'], ['task', slug('task', spec.task)]]) {
      await this.put(this.jobIndexKey(scope, spec), '', { ifNoneMatch: true });
    }
  }

  /**
   * job-index/{all | task/<task>}/<inverted creation time>-<job id>: listings are in ascending key
   * order only, so the inverted time puts the newest job first and a page is one bounded listing.
   */
  private jobIndexKey(scope: string[], spec: Pick<JobSpec, 'jobId' | 'createdAt'>): string {
    const t = Date.parse(spec.createdAt);
    if (!Number.isFinite(t)) throw new RegistryError(`job ${spec.jobId}: createdAt "${spec.createdAt}" is not a time`, 'invalid');
    const inverted = (MAX_INDEX_TIME - t).toString(36).padStart(9, '0');
    return this.key(PREFIXES.jobIndex.slice(0, -1), ...scope, `${inverted}-${spec.jobId}`);
  }

  /** Job ids, newest first, `limit` at a time; `after` (a job id) continues from the previous page. */
  async listJobIds(o: { task?: string; limit: number; after?: string }): Promise<{ ids: string[]; hasMore: boolean }> {
    const scope = o.task === undefined ? ['all'] : ['task', slug('task', o.task)];
    const prefix = this.key(PREFIXES.jobIndex.slice(0, -1), ...scope, '');
    const startAfter = o.after === undefined ? undefined : this.jobIndexKey(scope, await this.getJobSpec(o.after));
    const page = await this.store.listPage({ prefix, startAfter, maxKeys: o.limit + 1 }).catch((err: unknown) => {
      throw registryError(err);
    });
    const ids = page.keys.map((c) => c.key.slice(prefix.length).replace(/^[0-9a-z]+-/, ''));
    return { ids: ids.slice(0, o.limit), hasMore: ids.length > o.limit || page.next !== undefined };
  }

  async getJobSpec(jobId: string): Promise<JobSpec> {
    const spec = await this.getJson<JobSpec>(this.jobKey(jobId, JOB_FILES.spec));
    if (!spec) throw new RegistryError(`job "${jobId}" has no spec at ${this.uriOf(this.jobKey(jobId, JOB_FILES.spec))}`, 'not-found');
    return spec;
  }

  async putJobStatus(status: JobStatus): Promise<void> {
    await this.put(this.jobKey(status.jobId, JOB_FILES.status), JSON.stringify(status, null, 2), { contentType: 'application/json' });
  }

  async getJobStatus(jobId: string): Promise<JobStatus | null> {
    return this.getJson<JobStatus>(this.jobKey(jobId, JOB_FILES.status));
  }

  /**
   * The cancel request, written once by the API before it stops the job. Only the API writes it, so
   * neither a trainer's last status write nor its SIGTERM report can overwrite a cancel.
   */
  async putJobCancel(jobId: string, record: { requestedAt: string }): Promise<void> {
    try {
      await this.put(this.jobKey(jobId, JOB_FILES.cancel), JSON.stringify(record, null, 2), {
        ifNoneMatch: true,
        contentType: 'application/json',
      });
    } catch (err) {
      if (!(err instanceof RegistryError && err.code === 'conflict')) throw err; // cancelled before: same outcome
    }
  }

  async getJobCancel(jobId: string): Promise<{ requestedAt: string } | null> {
    return this.getJson<{ requestedAt: string }>(this.jobKey(jobId, JOB_FILES.cancel));
  }

  /**
   * Copies a checkpoint folder (`dir`/<step>/, shared/checkpoint-layout.ts) into the job's (or its sweep
   * point's) checkpoint/: the folder's files create-only, then the pointer, then the objects of older
   * checkpoints are deleted. Killed at any moment, the registry's pointer names a complete checkpoint.
   */
  async uploadCheckpoint(jobId: string, dir: string, pointer: CheckpointPointer, point?: number): Promise<void> {
    const prefix = this.jobKey(jobId, pointFolder(point) + CHECKPOINT_FOLDER);
    const folder = `${prefix}${pointer.folder}/`;
    // What is there already is not what the pointer names (it never names a folder being written):
    // an upload of the same step that was cut off, by this job's earlier attempt.
    for (const { key } of (await this.list(folder)).keys) await this.deleteObject(key);
    await this.uploadFiles(join(dir, pointer.folder), folder, CHECKPOINT_FILES, true);
    await this.put(prefix + CHECKPOINT_POINTER, JSON.stringify(pointer), { contentType: 'application/json' });
    for (const { key } of (await this.list(prefix)).keys)
      if (!key.startsWith(folder) && key !== prefix + CHECKPOINT_POINTER) await this.deleteObject(key);
  }

  /**
   * Copies the checkpoint the job's (or its sweep point's) pointer names into `dir` (its folder, then the
   * pointer, as the trainer lays it out); returns its pointer, or null when the job has none yet.
   */
  async downloadCheckpoint(jobId: string, dir: string, point?: number): Promise<CheckpointPointer | null> {
    const prefix = this.jobKey(jobId, pointFolder(point) + CHECKPOINT_FOLDER);
    const raw = await this.getBuffer(prefix + CHECKPOINT_POINTER);
    if (!raw) return null;
    let pointer: CheckpointPointer;
    try {
      pointer = parseCheckpointPointer(raw.toString('utf8'), this.uriOf(prefix + CHECKPOINT_POINTER));
    } catch (err) {
      throw new RegistryError((err as Error).message, 'corrupt');
    }
    const files = await this.downloadPrefix(`${prefix}${pointer.folder}/`, join(dir, pointer.folder));
    if (files < CHECKPOINT_FILES.length)
      throw new RegistryError(`${this.uriOf(prefix + CHECKPOINT_POINTER)} names ${pointer.folder}/, which is incomplete`, 'corrupt');
    await writeFile(join(dir, CHECKPOINT_POINTER), JSON.stringify(pointer));
    return pointer;
  }

  // --- a sweep's points: each one's status and staged adapter ----------------------------------------

  async putPointStatus(status: PointStatus): Promise<void> {
    await this.put(this.jobKey(status.jobId, `${pointFolder(status.point)}${JOB_FILES.status}`), JSON.stringify(status, null, 2), {
      contentType: 'application/json',
    });
  }

  async getPointStatus(jobId: string, point: number): Promise<PointStatus | null> {
    return this.getJson<PointStatus>(this.jobKey(jobId, `${pointFolder(point)}${JOB_FILES.status}`));
  }

  /** Stages a trained point's adapter files, those a version would hold (not a version: nothing lists or serves them). */
  async uploadPointAdapter(jobId: string, point: number, dir: string): Promise<void> {
    await this.uploadFiles(dir, this.jobKey(jobId, pointFolder(point) + POINT_ADAPTER_FOLDER), adapterFilesIn(dir), false);
  }

  /** Copies a point's staged adapter into `dir`; returns how many files there were. */
  async downloadPointAdapter(jobId: string, point: number, dir: string): Promise<number> {
    return this.downloadPrefix(this.jobKey(jobId, pointFolder(point) + POINT_ADAPTER_FOLDER), dir);
  }

  // --- a job's event log: immutable pages, appended by the API and the trainer ------------------------

  private jobEventPageKey(jobId: string, seq: number): string {
    return this.jobKey(jobId, `${JOB_EVENTS_FOLDER}${String(seq).padStart(JOB_EVENT_SEQ_DIGITS, '0')}.json`);
  }

  /** The seq after the job's last event page (0 when it has none). */
  async nextJobEventSeq(jobId: string): Promise<number> {
    const prefix = this.jobKey(jobId, JOB_EVENTS_FOLDER);
    const { keys } = await this.list(prefix);
    let next = 0;
    for (const { key } of keys) {
      const m = /^(\d+)\.json$/.exec(key.slice(prefix.length));
      if (m) next = Math.max(next, Number(m[1]) + 1);
    }
    return next;
  }

  /**
   * Appends events as one new page, written create-only at `seq` (default: after the last page). Pages are
   * never rewritten, so a job's log costs one PUT per batch however long it grows; a page taken by another
   * writer (the API and the trainer both append) moves this one to the next free seq, so a page always
   * lands after every page a reader has already seen and an `after` cursor never skips an event.
   */
  async appendJobEvents(jobId: string, events: readonly NewJobEvent[], seq?: number): Promise<{ seq: number; events: JobEventRecord[] }> {
    if (events.length === 0 || events.length > MAX_EVENTS_PER_PAGE)
      throw new RegistryError(`an event page holds 1 to ${MAX_EVENTS_PER_PAGE} events, not ${events.length}`, 'invalid');
    let at = seq ?? (await this.nextJobEventSeq(jobId));
    for (let attempt = 0; ; attempt++) {
      const records = events.map((e, i) => ({ object: 'finetune.event', id: jobEventId(at, i), ...e }) as JobEventRecord);
      const page: JobEventPage = { format: 'adapter-store.job-events/v1', jobId, seq: at, events: records };
      try {
        await this.put(this.jobEventPageKey(jobId, at), JSON.stringify(page), { ifNoneMatch: true, contentType: 'application/json' });
        return { seq: at, events: records };
      } catch (err) {
        if (!(err instanceof RegistryError && err.code === 'conflict') || attempt >= 10) throw err;
        at = Math.max(at + 1, await this.nextJobEventSeq(jobId));
      }
    }
  }

  /**
   * A job's events in recorded order: those after the event id `after`, at most `limit` (all when absent).
   * Reads only the pages from `after`'s on.
   */
  async listJobEvents(jobId: string, o: { after?: string; limit?: number } = {}): Promise<{ events: JobEventRecord[]; hasMore: boolean }> {
    if (o.after !== undefined && !JOB_EVENT_ID_RE.test(o.after))
      throw new RegistryError(`event id "${o.after}" is not an event id (like 00000003-0012)`, 'invalid');
    const prefix = this.jobKey(jobId, JOB_EVENTS_FOLDER);
    // "<seq>" sorts just before "<seq>.json": the listing starts at the cursor's own page.
    const startAfter = o.after === undefined ? undefined : prefix + o.after.slice(0, JOB_EVENT_SEQ_DIGITS);
    const events: JobEventRecord[] = [];
    let token: string | undefined;
    do {
      const page = await this.store.listPage({ prefix, startAfter, continuationToken: token }).catch((err: unknown) => {
        throw registryError(err);
      });
      for (const { key } of page.keys) {
        if (!/^\d+\.json$/.test(key.slice(prefix.length))) continue;
        const stored = await this.getJson<JobEventPage>(key);
        if (!stored || !Array.isArray(stored.events)) throw new RegistryError(`${this.uriOf(key)} is not an event page`, 'corrupt');
        for (const event of stored.events) {
          if (o.after !== undefined && event.id <= o.after) continue;
          if (o.limit !== undefined && events.length === o.limit) return { events, hasMore: true };
          events.push(event);
        }
      }
      token = page.next;
    } while (token);
    return { events, hasMore: false };
  }

  // --- what the API keeps beside a job: the launcher's handle, idempotency claims ---------------------

  async putJobLaunch(jobId: string, launch: unknown): Promise<void> {
    await this.put(this.jobKey(jobId, JOB_FILES.launch), JSON.stringify(launch, null, 2), { contentType: 'application/json' });
  }

  async getJobLaunch<T>(jobId: string): Promise<T | null> {
    return this.getJson<T>(this.jobKey(jobId, JOB_FILES.launch));
  }

  private idempotencyKey(key: string): string {
    return this.key(`${PREFIXES.idempotency}${createHash('sha256').update(key, 'utf8').digest('hex')}.json`);
  }

  /** Claims an idempotency key with a conditional write: null when claimed now, else the earlier claim's record. */
  async claimIdempotencyKey<T>(key: string, record: T): Promise<T | null> {
    try {
      await this.put(this.idempotencyKey(key), JSON.stringify(record, null, 2), { ifNoneMatch: true, contentType: 'application/json' });
      return null;
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'conflict') return this.getJson<T>(this.idempotencyKey(key));
      throw err;
    }
  }

  /** Releases a claim whose job could not be created, so a retry can try again. */
  async releaseIdempotencyKey(key: string): Promise<void> {
    await this.store.delete(this.idempotencyKey(key)).catch((err: unknown) => {
      throw registryError(err);
    });
  }

  // --- datasets --------------------------------------------------------------------------------------

  /**
   * Whether s3://bucket/key exists (any bucket this registry's store can read): 'missing' when not,
   * 'forbidden' when it may not be read (S3 answers 403 for a missing key too when the caller may not
   * list the bucket; a local store reads no other bucket).
   */
  async objectState(bucket: string, key: string): Promise<'exists' | 'missing' | 'forbidden'> {
    return this.store.objectState(bucket, key).catch((err: unknown) => {
      throw registryError(err);
    });
  }

  /**
   * What the trainer's dataset reader should open for a job's dataset URI: the URI itself, except that
   * the objects of a local registry are opened as the files they are.
   */
  readableDatasetUri(uri: string): string {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    return m ? this.store.readableUri(m[1], m[2]) : uri;
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

  /** The s3:// URI of a registry key. */
  uriOf(key: string): string {
    return `s3://${this.store.bucket}/${key}`;
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

  /**
   * Stores an uploaded dataset at datasets/<first 16 hex of its sha256>/<name>: content-addressed, so
   * the object is immutable and uploading the same bytes again lands on the same key. Returns its URI.
   */
  async putDataset(name: string, sha256: string, body: Buffer): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RegistryError(`dataset sha256 "${sha256}" is not 64 hex digits`, 'invalid');
    const key = this.key(PREFIXES.datasets + sha256.slice(0, 16), datasetName(name));
    try {
      await this.put(key, body, { ifNoneMatch: true, length: body.length });
    } catch (err) {
      // The same name and content hash: these bytes are already stored.
      if (!(err instanceof RegistryError && err.code === 'conflict')) throw err;
    }
    return this.uriOf(key);
  }

  /** Where a client uploads a dataset itself (a presigned PUT): datasets/uploads/<unique id>/<name>. */
  newDatasetUploadKey(name: string, now = new Date()): string {
    return this.key(PREFIXES.datasetUploads + newVersionId(now), datasetName(name));
  }

  /**
   * Stores the body of a signed upload at a key newDatasetUploadKey made, once (the local server's
   * stand-in for a presigned S3 PUT): exactly `bytes` bytes, or nothing.
   */
  async putDatasetUpload(key: string, body: Readable, bytes: number): Promise<string> {
    const rest = key.startsWith(this.key(PREFIXES.datasetUploads)) ? key.slice(this.key(PREFIXES.datasetUploads).length).split('/') : [];
    if (rest.length !== 2 || !VERSION.test(rest[0])) throw new RegistryError(`"${key}" is not a dataset upload key`, 'invalid');
    datasetName(rest[1]);
    await this.put(key, body, { ifNoneMatch: true, length: bytes });
    return this.uriOf(key);
  }

  // --- base models ---------------------------------------------------------------------------------

  /** A model exists once its weights do (uploadModel writes them last). */
  async modelExists(name: string): Promise<boolean> {
    const { keys } = await this.list(this.key(PREFIXES.models + slug('model name', name), ''));
    return keys.some((k) => k.key.endsWith('/config.json')) && keys.some((k) => k.key.endsWith('/model.safetensors'));
  }

  /** The bases in the store, by name: those that exist (config and weights, as modelExists), with their weights' size. */
  async listModels(): Promise<{ name: string; weightsBytes: number }[]> {
    const prefix = this.key(PREFIXES.models);
    const { keys } = await this.list(prefix);
    const files = new Map<string, Map<string, number>>();
    for (const k of keys) {
      const parts = k.key.slice(prefix.length).split('/');
      if (parts.length !== 2 || !SLUG.test(parts[0])) continue; // flat HF layout: models/<name>/<file>
      const [name, file] = parts;
      files.set(name, (files.get(name) ?? new Map()).set(file, k.size));
    }
    return [...files]
      .filter(([, f]) => f.has('config.json') && f.has('model.safetensors'))
      .map(([name, f]) => ({ name, weightsBytes: f.get('model.safetensors')! }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Size of a model's weights file (model.safetensors), or null when the model does not exist. */
  async modelWeightsBytes(name: string): Promise<number | null> {
    const { keys } = await this.list(this.key(PREFIXES.models + slug('model name', name), ''));
    return keys.find((k) => k.key.endsWith('/model.safetensors'))?.size ?? null;
  }

  /** Copies models/<name>/* into a local directory (streamed; the weights never sit in memory twice). */
  async downloadModel(name: string, dir: string): Promise<void> {
    await this.downloadPrefix(this.key(PREFIXES.models + slug('model name', name), ''), dir); // flat HF layout only
    if (!existsSync(join(dir, 'model.safetensors')))
      throw new RegistryError(`base model "${name}" not found in ${this.uriOf(this.key(PREFIXES.models))}`, 'not-found');
  }

  /** A base's folder as clients know it (s3://...), never a local store's path. */
  modelUri(name: string): string {
    return this.uriOf(this.key(PREFIXES.models + slug('model name', name), ''));
  }

  modelFileKey(name: string, file: BaseModelFile): string {
    return this.key(PREFIXES.models + slug('model name', name), file);
  }

  /** One file of a base, streamed (null when the base or that file is absent). */
  async openModelFile(name: string, file: BaseModelFile): Promise<ObjectBody | null> {
    if (!(BASE_MODEL_FILES as readonly string[]).includes(file))
      throw new RegistryError(`"${file}" is not a base model file (${BASE_MODEL_FILES.join(', ')})`, 'invalid');
    return this.store.get(this.modelFileKey(name, file)).catch((err: unknown) => {
      throw registryError(err);
    });
  }

  /**
   * Uploads a base model: the other files first, model.safetensors last and immutable. The weights
   * make a model exist (modelExists), so an interrupted upload leaves no usable-looking half model and
   * can simply be retried, and a complete model is never replaced (published adapters name its weights'
   * sha256). Throws a 'conflict' RegistryError when the model already exists.
   */
  async uploadModel(name: string, dir: string, files: readonly string[]): Promise<void> {
    const prefix = this.key(PREFIXES.models + slug('model name', name), '');
    if (!files.includes('model.safetensors')) throw new RegistryError(`base model "${name}": model.safetensors is required`, 'invalid');
    if (await this.modelExists(name))
      throw new RegistryError(`base model "${name}" already exists in ${this.uriOf(this.key(PREFIXES.models))}`, 'conflict');
    await this.uploadFiles(
      dir,
      prefix,
      files.filter((f) => f !== 'model.safetensors'),
      false,
    );
    await this.uploadFiles(dir, prefix, ['model.safetensors'], true);
  }

  // --- adapters ------------------------------------------------------------------------------------

  /**
   * Publishes an adapter directory as a new immutable version: data files first, the manifest last.
   * Returns the manifest. Nothing of a failed publish is visible (no manifest).
   */
  async publishAdapter(
    dir: string,
    meta: Omit<AdapterManifest, 'format' | 'version' | 'createdAt' | 'files'>,
    version = newVersionId(),
  ): Promise<AdapterManifest> {
    const task = slug('task', meta.task);
    if (!VERSION.test(version) || fromTheFuture(version, Date.now())) {
      throw new RegistryError(`version "${version}" is not a version id of now (ids carry their creation time)`, 'invalid');
    }
    const files: ManifestFile[] = [];
    for (const name of adapterFilesIn(dir)) {
      const body = await readFile(join(dir, name));
      files.push({ name, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
      await this.put(this.adapterFileKey(task, version, name), body, { ifNoneMatch: true, contentType: contentTypeOf(name) });
    }
    const manifest: AdapterManifest = { format: 'adapter-store.manifest/v1', version, createdAt: new Date().toISOString(), files, ...meta };
    await this.put(this.adapterFileKey(task, version, 'manifest.json'), JSON.stringify(manifest, null, 2), {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
    return manifest;
  }

  /** Visible versions of a task (those with a manifest), newest first. */
  async listVersions(task: string): Promise<string[]> {
    const prefix = this.key(PREFIXES.adapters + slug('task', task), '');
    const { keys } = await this.list(prefix);
    const now = Date.now();
    return keys
      .map((k) => k.key.slice(prefix.length).split('/'))
      .filter((parts) => parts.length === 2 && parts[1] === 'manifest.json' && VERSION.test(parts[0]) && !fromTheFuture(parts[0], now))
      .map((parts) => parts[0])
      .sort()
      .reverse();
  }

  /**
   * A task's visible versions (newest first) and the newest of them whose manifest is sound, the one a
   * reader serves when no version is named: a corrupt manifest is passed over (told to `onCorrupt`), never
   * used. `manifest` is null when the task has no version with a sound manifest.
   */
  async newestManifest(
    task: string,
    onCorrupt?: (version: string, err: RegistryError) => void,
  ): Promise<{ versions: string[]; manifest: AdapterManifest | null }> {
    const versions = await this.listVersions(task);
    for (const version of versions) {
      const manifest = await this.getManifest(task, version).catch((err: unknown) => {
        if (!(err instanceof RegistryError) || err.code !== 'corrupt') throw err;
        onCorrupt?.(version, err);
        return null;
      });
      if (manifest) return { versions, manifest };
    }
    return { versions, manifest: null };
  }

  /**
   * The version a job published, if it did: a job killed after its manifest was written but before its
   * status said so publishes nothing again when it is run again. Reads only the versions made since `since`
   * (the job's creation; version ids start with their time, less an hour for hosts' clocks).
   */
  async findJobVersion(task: string, jobId: string, since: string): Promise<AdapterManifest | null> {
    const prefix = this.key(PREFIXES.adapters + slug('task', task), '');
    const from = Date.parse(since) - 3600_000;
    const startAfter = Number.isFinite(from) ? prefix + newVersionId(new Date(from)).split('-')[0] : undefined;
    let token: string | undefined;
    do {
      const page = await this.store.listPage({ prefix, startAfter, continuationToken: token }).catch((err: unknown) => {
        throw registryError(err);
      });
      for (const { key } of page.keys) {
        const [version, file] = key.slice(prefix.length).split('/');
        if (file !== 'manifest.json' || !VERSION.test(version)) continue;
        const manifest = await this.getManifest(task, version);
        if (manifest?.jobId === jobId) return manifest;
      }
      token = page.next;
    } while (token);
    return null;
  }

  /** A version's manifest (null if it has none). Kept in memory once read: a manifest never changes. */
  async getManifest(task: string, version: string): Promise<AdapterManifest | null> {
    if (!VERSION.test(version)) throw new RegistryError(`version "${version}" is not a version id`, 'invalid');
    if (fromTheFuture(version, Date.now())) return null;
    const key = this.adapterFileKey(task, version, 'manifest.json');
    const cached = this.manifests.get(key);
    if (cached) {
      this.manifests.delete(key); // most recently used goes last
      this.manifests.set(key, cached);
      return cached;
    }
    const manifest = await this.getJson<AdapterManifest>(key);
    if (manifest) {
      // The path names the version and task; a manifest that says otherwise is not served (its version would
      // become a cache key and an ETag).
      if (manifest.version !== version || manifest.task !== task || !Array.isArray(manifest.files)) {
        throw new RegistryError(`${this.uriOf(key)} does not describe ${task} version ${version}`, 'corrupt');
      }
      this.manifests.set(key, manifest);
      if (this.manifests.size > MANIFEST_CACHE_ENTRIES) this.manifests.delete(this.manifests.keys().next().value!);
    }
    return manifest;
  }

  /** Tasks that have at least one visible version. */
  /** Tasks with at least one visible version, in name order, a page at a time (`after`: the last task of the previous page). */
  async listTasks(o: { limit: number; after?: string }): Promise<{ tasks: string[]; hasMore: boolean }> {
    const prefix = this.key(PREFIXES.adapters);
    const tasks: string[] = [];
    // Past a task's every key: its prefix with the "/" raised to the next byte ("0"), since every key under
    // "adapters/<task>/" sorts after "adapters/<task>/" itself and would roll up into the same prefix again.
    const pastTask = (taskPrefix: string) => `${taskPrefix.slice(0, -1)}0`;
    let startAfter = o.after === undefined ? undefined : pastTask(`${prefix}${slug('task', o.after)}/`);
    for (;;) {
      // Task prefixes a page at a time, each checked for a visible version, until the page is full.
      const page = await this.store.listPage({ prefix, delimiter: '/', startAfter, maxKeys: o.limit + 1 }).catch((err: unknown) => {
        throw registryError(err);
      });
      const names = page.prefixes.map((p) => p.slice(prefix.length).replace(/\/$/, '')).filter((t) => SLUG.test(t));
      const visible = await Promise.all(names.map(async (t) => ((await this.listVersions(t)).length > 0 ? t : null)));
      for (const t of visible) {
        if (t === null) continue;
        if (tasks.length === o.limit) return { tasks, hasMore: true };
        tasks.push(t);
      }
      if (!page.next || page.prefixes.length === 0) return { tasks, hasMore: false };
      startAfter = pastTask(page.prefixes[page.prefixes.length - 1]);
    }
  }

  adapterFileKey(task: string, version: string, file: string): string {
    return this.key(PREFIXES.adapters + slug('task', task), version, file);
  }

  /** An adapter file's bytes, streamed (null if there is no such object). */
  async openAdapterFile(task: string, version: string, file: string): Promise<ObjectBody | null> {
    if (!VERSION.test(version)) throw new RegistryError(`version "${version}" is not a version id`, 'invalid');
    return this.store.get(this.adapterFileKey(task, version, file)).catch((err: unknown) => {
      throw registryError(err);
    });
  }

  /**
   * Copies a visible version's files (those its manifest lists, then the manifest) into `dir`, streamed,
   * each checked against the manifest's size and sha256. Returns the manifest.
   */
  async downloadAdapterVersion(task: string, version: string, dir: string): Promise<AdapterManifest> {
    const manifest = await this.getManifest(task, version);
    if (!manifest) throw new RegistryError(`task "${task}" has no version "${version}"`, 'not-found');
    await mkdir(dir, { recursive: true });
    for (const file of manifest.files) {
      const key = this.adapterFileKey(task, version, file.name);
      if (file.name.includes('/') || file.name.startsWith('.'))
        throw new RegistryError(`${this.uriOf(key)}: the manifest names a file outside its version`, 'corrupt');
      const body = await this.openAdapterFile(task, version, file.name);
      if (!body) throw new RegistryError(`${this.uriOf(key)}: listed in the manifest but not in the store`, 'corrupt');
      await pipeline(body.stream, verifiedBody(file, this.uriOf(key)), createWriteStream(join(dir, file.name))).catch((err: unknown) => {
        if (err instanceof FileMismatchError) throw new RegistryError(err.message, 'corrupt');
        throw new RegistryError(`reading ${this.uriOf(key)} failed: ${(err as Error).message}`, 'storage');
      });
    }
    await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  }

  // --- stale idempotency claims -------------------------------------------------------------------

  /**
   * Replaces the idempotency claim for `key` with `record`, only if it is still `expected` (a claim
   * whose request died before creating its job): compare-and-swap on its ETag with If-Match, so of
   * several requests taking over one stale claim exactly one wins. True when replaced.
   */
  async replaceIdempotencyClaim<T>(key: string, expected: T, record: T): Promise<boolean> {
    const objectKey = this.idempotencyKey(key);
    try {
      const body = await this.store.get(objectKey);
      if (!body) return false;
      const current: unknown = JSON.parse((await readAll(body)).toString('utf8'));
      if (JSON.stringify(current) !== JSON.stringify(expected)) return false;
      await this.store.put(objectKey, JSON.stringify(record, null, 2), { ifMatch: body.etag, contentType: 'application/json' });
      return true;
    } catch (err) {
      if (err instanceof ObjectStoreError && err.code === 'conflict') return false;
      throw registryError(err);
    }
  }
}

/** The media type an adapter version's file is stored and served with. */
export function contentTypeOf(name: string): string {
  if (name.endsWith('.json')) return 'application/json';
  if (name.endsWith('.md')) return 'text/markdown; charset=utf-8';
  return 'application/octet-stream';
}
