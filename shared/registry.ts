/**
 * The registry: one module owns the object layout and every read and write of it, over the S3 API only
 * (AWS S3, LocalStack or any S3-compatible server; endpoint and credentials from the standard AWS
 * environment).
 *
 *   models/<name>/{config.json, model.safetensors, vocab.txt | tokenizer.json, ...}
 *   jobs/<id>/spec.json       what was asked (written once)
 *   jobs/<id>/status.json     what the trainer reports (rewritten as it goes)
 *   jobs/<id>/cancel.json     a cancel request (written once, by the API only)
 *   jobs/<id>/launch.json     the launcher's handle (Batch job id, local pid), for cancel and describe
 *   jobs/<id>/checkpoint/     the trainer's resumable state, for retried jobs
 *   idempotency/<sha256>.json the job an Idempotency-Key created (conditional write)
 *   job-index/{all,task/<task>}/<inverted time>-<id>  empty markers: job listings newest first
 *   datasets/<sha256[:16]>/<name>      uploaded datasets (POST /datasets), content-addressed
 *   datasets/uploads/<id>/<name>       datasets uploaded by presigned PUT
 *   adapters/<task>/<version>/{adapter.safetensors, adapter_config.json, metrics.json, manifest.json}
 *
 * A version is visible once its manifest exists; the manifest is written last. Versions are never
 * overwritten: every object of a version is written with If-None-Match: * (servers that ignore the
 * header still cannot collide, since version ids carry a millisecond timestamp and 64 random bits).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { JobSpec, JobStatus } from './job.ts';
import type { AdapterManifest, ManifestFile } from './manifest.ts';

export class RegistryError extends Error {
  constructor(message: string, readonly code: 'not-found' | 'conflict' | 'invalid' | 'storage') {
    super(message);
  }
}

export interface RegistryLocation {
  bucket: string;
  /** Key prefix inside the bucket ('' or ending in '/'). */
  prefix: string;
}

/** `s3://bucket` or `s3://bucket/some/prefix`. */
export function parseRegistryUri(uri: string): RegistryLocation {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!m) throw new RegistryError(`registry "${uri}" must look like s3://bucket or s3://bucket/prefix`, 'invalid');
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: m[1], prefix: prefix ? `${prefix}/` : '' };
}

/**
 * An S3 client from the standard AWS environment. Path-style addressing when an endpoint is configured
 * (S3-compatible servers on loopback), and checksums only where required, because some of those
 * servers store the chunk framing of streamed checksummed uploads as data.
 */
export function s3ClientFromEnv(overrides: S3ClientConfig = {}): S3Client {
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  return new S3Client({
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    forcePathStyle: process.env.AWS_S3_FORCE_PATH_STYLE === 'true' || Boolean(endpoint),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...overrides,
  });
}

/** Sortable and unique without a coordinator: UTC timestamp to the millisecond + 64 random bits. */
export function newVersionId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace('.', '')}-${randomBytes(8).toString('hex')}`;
}

const SLUG = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Dataset file names: 1-128 characters of letters, digits, ".", "_", "-", starting with a letter or digit. */
export const DATASET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function datasetName(name: string): string {
  if (!DATASET_NAME_RE.test(name) || name.includes('..')) throw new RegistryError(`dataset name "${name}" must be 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit`, 'invalid');
  return name;
}

function slug(kind: string, value: string): string {
  if (!SLUG.test(value)) throw new RegistryError(`${kind} "${value}" must be 1-64 characters of a-z, 0-9, "_" or "-", starting with a letter or digit`, 'invalid');
  return value;
}

const VERSION = /^\d{8}T\d{9}Z-[0-9a-f]{16}$/;

function statusCode(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

/** Job-index times count down from here (ms, the year 5188: nine base-36 digits). */
const MAX_INDEX_TIME = 36 ** 9 - 1;

/** Objects larger than this go up as multipart uploads of MULTIPART_PART_BYTES parts. */
export const MULTIPART_THRESHOLD = 8 * 1024 * 1024;
const MULTIPART_PART_BYTES = 8 * 1024 * 1024;

export const ADAPTER_FILES = ['adapter.safetensors', 'adapter_config.json', 'metrics.json'] as const;

export class Registry {
  constructor(
    readonly s3: S3Client,
    readonly location: RegistryLocation,
  ) {}

  static fromUri(uri: string, client = s3ClientFromEnv()): Registry {
    return new Registry(client, parseRegistryUri(uri));
  }

  get uri(): string {
    return `s3://${this.location.bucket}/${this.location.prefix}`.replace(/\/$/, '');
  }

  key(...parts: string[]): string {
    return this.location.prefix + parts.join('/');
  }

  // --- raw object access -------------------------------------------------------------------------

  private async put(key: string, body: Buffer | string | Readable, opts: { immutable?: boolean; contentType?: string; length?: number } = {}): Promise<void> {
    const size = opts.length ?? (typeof body === 'string' ? Buffer.byteLength(body) : Buffer.isBuffer(body) ? body.length : undefined);
    const params = {
      Bucket: this.location.bucket,
      Key: key,
      Body: body,
      ContentType: opts.contentType,
      ContentLength: size,
      IfNoneMatch: opts.immutable ? '*' : undefined,
    };
    try {
      if (size !== undefined && size <= MULTIPART_THRESHOLD) await this.s3.send(new PutObjectCommand(params));
      // Base models are hundreds of MB: parts keep each request small (S3 caps single PUTs at 5 GiB,
      // S3-compatible servers far lower) and a failed part is retried alone. If-None-Match applies to the
      // completion, so an immutable object is still never overwritten.
      else await new Upload({ client: this.s3, params, partSize: MULTIPART_PART_BYTES, queueSize: 4, leavePartsOnError: false }).done();
    } catch (err) {
      const code = statusCode(err);
      if (code === 412 || code === 409) throw new RegistryError(`s3://${this.location.bucket}/${key} already exists and is immutable`, 'conflict');
      throw new RegistryError(`writing s3://${this.location.bucket}/${key} failed: ${(err as Error).message}`, 'storage');
    }
  }

  private async getBuffer(key: string): Promise<Buffer | null> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw new RegistryError(`reading s3://${this.location.bucket}/${key} failed: ${(err as Error).message}`, 'storage');
    }
  }

  private async getJson<T>(key: string): Promise<T | null> {
    const body = await this.getBuffer(key);
    if (!body) return null;
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      throw new RegistryError(`s3://${this.location.bucket}/${key} is not valid JSON`, 'storage');
    }
  }

  /** Every key under a prefix (paginated), and the common prefixes one level down when `delimiter`. */
  async list(prefix: string, delimiter?: string): Promise<{ keys: { key: string; size: number }[]; prefixes: string[] }> {
    const keys: { key: string; size: number }[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: token }));
      for (const o of page.Contents ?? []) keys.push({ key: o.Key!, size: o.Size ?? 0 });
      for (const p of page.CommonPrefixes ?? []) prefixes.push(p.Prefix!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return { keys, prefixes };
  }

  /** Streams one object of the registry bucket into a local file. */
  private async downloadKey(key: string, file: string): Promise<void> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key }));
      await pipeline(out.Body as Readable, createWriteStream(file));
    } catch (err) {
      if (statusCode(err) === 404) throw new RegistryError(`s3://${this.location.bucket}/${key}: no such object`, 'not-found');
      throw new RegistryError(`reading s3://${this.location.bucket}/${key} failed: ${(err as Error).message}`, 'storage');
    }
  }

  /** Copies every object directly under `prefix` into `dir`; returns how many there were. */
  async downloadPrefix(prefix: string, dir: string): Promise<number> {
    const { keys } = await this.list(prefix);
    const flat = keys.filter((k) => !k.key.slice(prefix.length).includes('/'));
    if (flat.length === 0) return 0;
    await mkdir(dir, { recursive: true });
    for (const { key } of flat) await this.downloadKey(key, join(dir, key.slice(prefix.length)));
    return flat.length;
  }

  /** Uploads local files under `prefix` in the given order (overwriting: for mutable state like checkpoints). */
  async uploadFiles(dir: string, prefix: string, names: readonly string[]): Promise<void> {
    for (const name of names) {
      const { size } = await stat(join(dir, name));
      await this.put(prefix + name, createReadStream(join(dir, name)), { length: size });
    }
  }

  // --- jobs ----------------------------------------------------------------------------------------

  /** Writes the spec, then the job's entries in the listing index (all jobs, and its task's). */
  async putJobSpec(spec: JobSpec): Promise<void> {
    await this.put(this.key('jobs', slug('job id', spec.jobId), 'spec.json'), JSON.stringify(spec, null, 2), { immutable: true, contentType: 'application/json' });
    for (const scope of [['all'], ['task', slug('task', spec.task)]]) {
      await this.put(this.jobIndexKey(scope, spec), '', { immutable: true });
    }
  }

  /**
   * job-index/{all | task/<task>}/<inverted creation time>-<job id>: S3 lists keys in ascending order
   * only, so the inverted time puts the newest job first and a page is one bounded ListObjectsV2.
   */
  private jobIndexKey(scope: string[], spec: Pick<JobSpec, 'jobId' | 'createdAt'>): string {
    const t = Date.parse(spec.createdAt);
    if (!Number.isFinite(t)) throw new RegistryError(`job ${spec.jobId}: createdAt "${spec.createdAt}" is not a time`, 'invalid');
    const inverted = (MAX_INDEX_TIME - t).toString(36).padStart(9, '0');
    return this.key('job-index', ...scope, `${inverted}-${spec.jobId}`);
  }

  /** Job ids, newest first, `limit` at a time; `after` (a job id) continues from the previous page. */
  async listJobIds(o: { task?: string; limit: number; after?: string }): Promise<{ ids: string[]; hasMore: boolean }> {
    const scope = o.task === undefined ? ['all'] : ['task', slug('task', o.task)];
    const prefix = this.key('job-index', ...scope, '');
    const startAfter = o.after === undefined ? undefined : this.jobIndexKey(scope, await this.getJobSpec(o.after));
    const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: prefix, StartAfter: startAfter, MaxKeys: o.limit + 1 }));
    const ids = (page.Contents ?? []).map((c) => c.Key!.slice(prefix.length).replace(/^[0-9a-z]+-/, ''));
    return { ids: ids.slice(0, o.limit), hasMore: ids.length > o.limit || page.IsTruncated === true };
  }

  async getJobSpec(jobId: string): Promise<JobSpec> {
    const spec = await this.getJson<JobSpec>(this.key('jobs', slug('job id', jobId), 'spec.json'));
    if (!spec) throw new RegistryError(`job "${jobId}" has no spec in ${this.uri}/jobs/${jobId}/spec.json`, 'not-found');
    return spec;
  }

  async putJobStatus(status: JobStatus): Promise<void> {
    await this.put(this.key('jobs', slug('job id', status.jobId), 'status.json'), JSON.stringify(status, null, 2), { contentType: 'application/json' });
  }

  async getJobStatus(jobId: string): Promise<JobStatus | null> {
    return this.getJson<JobStatus>(this.key('jobs', slug('job id', jobId), 'status.json'));
  }

  /**
   * The cancel request, written once by the API before it stops the job. Only the API writes it, so
   * neither a trainer's last status write nor its SIGTERM report can overwrite a cancel.
   */
  async putJobCancel(jobId: string, record: { requestedAt: string }): Promise<void> {
    try {
      await this.put(this.key('jobs', slug('job id', jobId), 'cancel.json'), JSON.stringify(record, null, 2), { immutable: true, contentType: 'application/json' });
    } catch (err) {
      if (!(err instanceof RegistryError && err.code === 'conflict')) throw err; // cancelled before: same outcome
    }
  }

  async getJobCancel(jobId: string): Promise<{ requestedAt: string } | null> {
    return this.getJson<{ requestedAt: string }>(this.key('jobs', slug('job id', jobId), 'cancel.json'));
  }

  // --- what the API keeps beside a job: the launcher's handle, idempotency claims ---------------------

  async putJobLaunch(jobId: string, launch: unknown): Promise<void> {
    await this.put(this.key('jobs', slug('job id', jobId), 'launch.json'), JSON.stringify(launch, null, 2), { contentType: 'application/json' });
  }

  async getJobLaunch<T>(jobId: string): Promise<T | null> {
    return this.getJson<T>(this.key('jobs', slug('job id', jobId), 'launch.json'));
  }

  private idempotencyKey(key: string): string {
    return this.key('idempotency', `${createHash('sha256').update(key, 'utf8').digest('hex')}.json`);
  }

  /** Claims an idempotency key with a conditional write: null when claimed now, else the earlier claim's record. */
  async claimIdempotencyKey<T>(key: string, record: T): Promise<T | null> {
    try {
      await this.put(this.idempotencyKey(key), JSON.stringify(record, null, 2), { immutable: true, contentType: 'application/json' });
      return null;
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'conflict') return this.getJson<T>(this.idempotencyKey(key));
      throw err;
    }
  }

  /** Releases a claim whose job could not be created, so a retry can try again. */
  async releaseIdempotencyKey(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.idempotencyKey(key) }));
  }

  // --- datasets --------------------------------------------------------------------------------------

  /**
   * Whether s3://bucket/key exists (any bucket this client can read): 'missing' on 404, 'forbidden' on 403
   * (S3 answers 403 for a missing key too when the caller may not list the bucket).
   */
  async objectState(bucket: string, key: string): Promise<'exists' | 'missing' | 'forbidden'> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return 'exists';
    } catch (err) {
      const code = statusCode(err);
      if (code === 404) return 'missing';
      if (code === 403) return 'forbidden';
      throw new RegistryError(`checking s3://${bucket}/${key} failed: ${(err as Error).message}`, 'storage');
    }
  }

  /** A presigned GET of a registry key (downloads redirected to S3). */
  presignGet(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.location.bucket, Key: key }), { expiresIn: expiresInSeconds });
  }

  /** A presigned PUT of exactly `bytes` bytes to a registry key (the size is signed: S3 refuses others). */
  presignPut(key: string, bytes: number, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.s3, new PutObjectCommand({ Bucket: this.location.bucket, Key: key, ContentLength: bytes }), { expiresIn: expiresInSeconds });
  }

  /** The s3:// URI of a registry key. */
  uriOf(key: string): string {
    return `s3://${this.location.bucket}/${key}`;
  }

  /**
   * Stores an uploaded dataset at datasets/<first 16 hex of its sha256>/<name>: content-addressed, so
   * the object is immutable and uploading the same bytes again lands on the same key. Returns its URI.
   */
  async putDataset(name: string, sha256: string, body: Buffer): Promise<string> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RegistryError(`dataset sha256 "${sha256}" is not 64 hex digits`, 'invalid');
    const key = this.key('datasets', sha256.slice(0, 16), datasetName(name));
    try {
      await this.put(key, body, { immutable: true, length: body.length });
    } catch (err) {
      // The same name and content hash: these bytes are already stored.
      if (!(err instanceof RegistryError && err.code === 'conflict')) throw err;
    }
    return this.uriOf(key);
  }

  /** Where a client uploads a dataset itself (a presigned PUT): datasets/uploads/<unique id>/<name>. */
  newDatasetUploadKey(name: string, now = new Date()): string {
    return this.key('datasets', 'uploads', newVersionId(now), datasetName(name));
  }

  // --- base models ---------------------------------------------------------------------------------

  /** A model exists once its weights do (uploadModel writes them last). */
  async modelExists(name: string): Promise<boolean> {
    const { keys } = await this.list(this.key('models', slug('model name', name), ''));
    return keys.some((k) => k.key.endsWith('/config.json')) && keys.some((k) => k.key.endsWith('/model.safetensors'));
  }

  /** Copies models/<name>/* into a local directory (streamed; the weights never sit in memory twice). */
  async downloadModel(name: string, dir: string): Promise<void> {
    await this.downloadPrefix(this.key('models', slug('model name', name), ''), dir); // flat HF layout only
    if (!existsSync(join(dir, 'model.safetensors'))) throw new RegistryError(`base model "${name}" not found in ${this.uri}/models/`, 'not-found');
  }

  /**
   * Uploads a base model: the other files first, model.safetensors last and immutable. The weights
   * make a model exist (modelExists), so an interrupted upload leaves no usable-looking half model and
   * can simply be retried, and a complete model is never replaced (published adapters name its weights'
   * sha256). Throws a 'conflict' RegistryError when the model already exists.
   */
  async uploadModel(name: string, dir: string, files: readonly string[]): Promise<void> {
    const prefix = this.key('models', slug('model name', name), '');
    if (!files.includes('model.safetensors')) throw new RegistryError(`base model "${name}": model.safetensors is required`, 'invalid');
    if (await this.modelExists(name)) throw new RegistryError(`base model "${name}" already exists in ${this.uri}/models/`, 'conflict');
    const upload = async (file: string, immutable: boolean) => {
      const { size } = await stat(join(dir, file));
      await this.put(prefix + file, createReadStream(join(dir, file)), { length: size, immutable });
    };
    for (const file of files.filter((f) => f !== 'model.safetensors')) await upload(file, false);
    await upload('model.safetensors', true);
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
    const files: ManifestFile[] = [];
    for (const name of ADAPTER_FILES) {
      const body = await readFile(join(dir, name));
      files.push({ name, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
      await this.put(this.key('adapters', task, version, name), body, { immutable: true, contentType: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
    }
    const manifest: AdapterManifest = { format: 'adapter-store.manifest/v1', version, createdAt: new Date().toISOString(), files, ...meta };
    await this.put(this.key('adapters', task, version, 'manifest.json'), JSON.stringify(manifest, null, 2), { immutable: true, contentType: 'application/json' });
    return manifest;
  }

  /** Visible versions of a task (those with a manifest), newest first. */
  async listVersions(task: string): Promise<string[]> {
    const prefix = this.key('adapters', slug('task', task), '');
    const { keys } = await this.list(prefix);
    return keys
      .map((k) => k.key.slice(prefix.length).split('/'))
      .filter((parts) => parts.length === 2 && parts[1] === 'manifest.json' && VERSION.test(parts[0]))
      .map((parts) => parts[0])
      .sort()
      .reverse();
  }

  async getManifest(task: string, version: string): Promise<AdapterManifest | null> {
    if (!VERSION.test(version)) throw new RegistryError(`version "${version}" is not a version id`, 'invalid');
    return this.getJson<AdapterManifest>(this.key('adapters', slug('task', task), version, 'manifest.json'));
  }

  /** Tasks that have at least one visible version. */
  async listTasks(): Promise<string[]> {
    const prefix = this.key('adapters', '');
    const { prefixes } = await this.list(prefix, '/');
    const tasks = prefixes.map((p) => p.slice(prefix.length).replace(/\/$/, '')).filter((t) => SLUG.test(t));
    const visible = await Promise.all(tasks.map(async (t) => ((await this.listVersions(t)).length > 0 ? t : null)));
    return visible.filter((t): t is string => t !== null).sort();
  }

  adapterFileKey(task: string, version: string, file: string): string {
    return this.key('adapters', slug('task', task), version, file);
  }

  // --- stale idempotency claims -------------------------------------------------------------------

  /**
   * Replaces the idempotency claim for `key` with `record`, only if it is still `expected` (a claim
   * whose request died before creating its job): compare-and-swap on its ETag with If-Match, so of
   * several requests taking over one stale claim exactly one wins. True when replaced.
   */
  async replaceIdempotencyClaim<T>(key: string, expected: T, record: T): Promise<boolean> {
    const objectKey = this.idempotencyKey(key);
    let etag: string | undefined;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: objectKey }));
      const current: unknown = JSON.parse(await out.Body!.transformToString());
      if (JSON.stringify(current) !== JSON.stringify(expected)) return false;
      etag = out.ETag;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw new RegistryError(`reading s3://${this.location.bucket}/${objectKey} failed: ${(err as Error).message}`, 'storage');
    }
    if (!etag) return false;
    try {
      await this.s3.send(new PutObjectCommand({ Bucket: this.location.bucket, Key: objectKey, Body: JSON.stringify(record, null, 2), ContentType: 'application/json', IfMatch: etag }));
      return true;
    } catch (err) {
      const code = statusCode(err);
      if (code === 412 || code === 409 || code === 404) return false;
      throw new RegistryError(`writing s3://${this.location.bucket}/${objectKey} failed: ${(err as Error).message}`, 'storage');
    }
  }
}
