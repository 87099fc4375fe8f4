/**
 * Where every registry object lives: the prefixes, the key of each object, the files of a base model,
 * an adapter version and a job, and the rules for the names inside keys (slugs, version ids, dataset
 * names). Pure and browser-safe (no node: imports): the web runtime, the console and cdk/ read it too.
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
 * A version is visible once its manifest exists; the manifest is written last. The infrastructure
 * (cdk/registry.ts) grants access by the prefixes exported here.
 */
import { RegistryError } from './error.ts';

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

/** The objects of jobs/<id>/, and the folders inside it. */
export const JOB_FILES = { spec: 'spec.json', status: 'status.json', cancel: 'cancel.json', launch: 'launch.json' } as const;
export const CHECKPOINT_FOLDER = 'checkpoint/';
export const JOB_EVENTS_FOLDER = 'events/';
export const JOB_POINTS_FOLDER = 'points/';
/** A sweep point's staged adapter: jobs/<id>/points/<i>/adapter/. */
export const POINT_ADAPTER_FOLDER = 'adapter/';

/** Written last: a version exists once its manifest does. */
export const MANIFEST_FILE = 'manifest.json';
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
export const BASE_MODEL_FILES = [
  'config.json',
  'model.safetensors',
  'vocab.txt',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json', // RoBERTa's byte-level BPE: vocab.json + merges.txt
  'merges.txt',
  'sentencepiece.bpe.model', // XLM-R's SentencePiece model
] as const;
export type BaseModelFile = (typeof BASE_MODEL_FILES)[number];
/** A base exists once both are stored; the weights go up last (ModelStore.upload). */
export const MODEL_CONFIG_FILE = 'config.json';
export const MODEL_WEIGHTS_FILE = 'model.safetensors';

/** The media type an adapter version's file is stored and served with. */
export function contentTypeOf(name: string): string {
  if (name.endsWith('.json')) return 'application/json';
  if (name.endsWith('.md')) return 'text/markdown; charset=utf-8';
  return 'application/octet-stream';
}

// --- names inside keys ---------------------------------------------------------------------------------

/** Tasks, model names and job ids: no path tricks, no upper case. */
export const SLUG_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Version ids: UTC time to the millisecond, then 64 random bits in hex. */
export const VERSION_RE = /^\d{8}T\d{9}Z-[0-9a-f]{16}$/;
/** Dataset file names: 1-128 characters of letters, digits, ".", "_", "-", starting with a letter or digit. */
export const DATASET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** S3's bucket names (and a local store's directory name, which names its objects s3://<name>/...). */
export const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `value` when it is a slug, else a RegistryError naming `kind` ("task", "job id", "model name"). */
export function slug(kind: string, value: string): string {
  if (!SLUG_RE.test(value))
    throw new RegistryError(
      `${kind} "${value}" must be 1-64 characters of a-z, 0-9, "_" or "-", starting with a letter or digit`,
      'invalid',
    );
  return value;
}

/** `version` when it is a version id, else a RegistryError. */
export function versionId(version: string): string {
  if (!VERSION_RE.test(version)) throw new RegistryError(`version "${version}" is not a version id`, 'invalid');
  return version;
}

export function datasetName(name: string): string {
  if (!DATASET_NAME_RE.test(name) || name.includes('..'))
    throw new RegistryError(
      `dataset name "${name}" must be 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit`,
      'invalid',
    );
  return name;
}

/** Sortable and unique without a coordinator: UTC timestamp to the millisecond + 64 random bits. */
export function newVersionId(now = new Date()): string {
  const random = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${now.toISOString().replace(/[-:]/g, '').replace('.', '')}-${random}`;
}

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

/** Whether a version is dated beyond the clock skew (`now`: ms since the epoch). */
export function isFromTheFuture(version: string, now: number): boolean {
  return !(versionTime(version) <= now + MAX_VERSION_CLOCK_SKEW_MS);
}

/** Job-index times count down from here (ms, the year 5188: nine base-36 digits). */
const MAX_INDEX_TIME = 36 ** 9 - 1;

/** The folder of a sweep point inside its job's (empty for the job itself). */
function pointFolder(point: number | undefined): string {
  if (point === undefined) return '';
  if (!Number.isSafeInteger(point) || point < 0) throw new RegistryError(`sweep point ${point} is not an index`, 'invalid');
  return `${JOB_POINTS_FOLDER}${point}/`;
}

// --- keys ------------------------------------------------------------------------------------------------

/** Every key of a registry under its key prefix ('' or ending in '/'); the names in them are checked. */
export class RegistryLayout {
  constructor(readonly prefix = '') {}

  key(...parts: string[]): string {
    return this.prefix + parts.join('/');
  }

  // jobs/<id>/...

  /** jobs/<id>/<file> (the folder itself when `file` is ''). */
  jobFile(jobId: string, file: string): string {
    return this.key(PREFIXES.jobs + slug('job id', jobId), file);
  }

  /** jobs/<id>/checkpoint/, or a sweep point's: jobs/<id>/points/<i>/checkpoint/. */
  checkpointPrefix(jobId: string, point?: number): string {
    return this.jobFile(jobId, pointFolder(point) + CHECKPOINT_FOLDER);
  }

  /** jobs/<id>/points/<i>/status.json */
  pointStatus(jobId: string, point: number): string {
    return this.jobFile(jobId, pointFolder(point) + JOB_FILES.status);
  }

  /** jobs/<id>/points/<i>/adapter/ */
  pointAdapterPrefix(jobId: string, point: number): string {
    return this.jobFile(jobId, pointFolder(point) + POINT_ADAPTER_FOLDER);
  }

  /** jobs/<id>/events/: the pages are <seq, zero-padded to JOB_EVENT_SEQ_DIGITS>.json (shared/job-events.ts). */
  jobEventsPrefix(jobId: string): string {
    return this.jobFile(jobId, JOB_EVENTS_FOLDER);
  }

  // job-index/...

  /** job-index/all/, or job-index/task/<task>/ */
  jobIndexPrefix(task?: string): string {
    const scope = task === undefined ? ['all'] : ['task', slug('task', task)];
    return this.key(PREFIXES.jobIndex.slice(0, -1), ...scope, '');
  }

  /**
   * job-index/{all | task/<task>}/<inverted creation time>-<job id>: listings are in ascending key
   * order only, so the inverted time puts the newest job first and a page is one bounded listing.
   */
  jobIndexEntry(job: { jobId: string; createdAt: string }, task?: string): string {
    const t = Date.parse(job.createdAt);
    if (!Number.isFinite(t)) throw new RegistryError(`job ${job.jobId}: createdAt "${job.createdAt}" is not a time`, 'invalid');
    const inverted = (MAX_INDEX_TIME - t).toString(36).padStart(9, '0');
    return `${this.jobIndexPrefix(task)}${inverted}-${job.jobId}`;
  }

  /** The job id an index entry (its key less the index prefix) names. */
  jobIdOfIndexEntry(name: string): string {
    return name.replace(/^[0-9a-z]+-/, '');
  }

  /** idempotency/<sha256 of the Idempotency-Key>.json */
  idempotencyClaim(sha256: string): string {
    return this.key(`${PREFIXES.idempotency}${sha256}.json`);
  }

  // datasets/...

  /** datasets/<first 16 hex of its sha256>/<name>: content-addressed. */
  dataset(sha256: string, name: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RegistryError(`dataset sha256 "${sha256}" is not 64 hex digits`, 'invalid');
    return this.key(PREFIXES.datasets + sha256.slice(0, 16), datasetName(name));
  }

  /** datasets/uploads/<unique id>/<name>: where a client uploads a dataset itself. */
  datasetUpload(name: string, now = new Date()): string {
    return this.key(PREFIXES.datasetUploads + newVersionId(now), datasetName(name));
  }

  /** `key` when it is a key datasetUpload made, else a RegistryError. */
  checkDatasetUpload(key: string): string {
    const uploads = this.key(PREFIXES.datasetUploads);
    const rest = key.startsWith(uploads) ? key.slice(uploads.length).split('/') : [];
    if (rest.length !== 2 || !VERSION_RE.test(rest[0])) throw new RegistryError(`"${key}" is not a dataset upload key`, 'invalid');
    datasetName(rest[1]);
    return key;
  }

  // models/<name>/...

  /** models/<name>/ (the flat Hugging Face layout: its files directly inside). */
  model(name: string): string {
    return this.key(PREFIXES.models + slug('model name', name), '');
  }

  modelFile(name: string, file: string): string {
    return this.key(PREFIXES.models + slug('model name', name), file);
  }

  // adapters/<task>/<version>/...

  /** adapters/<task>/ */
  task(task: string): string {
    return this.key(PREFIXES.adapters + slug('task', task), '');
  }

  adapterFile(task: string, version: string, file: string): string {
    return this.key(PREFIXES.adapters + slug('task', task), version, file);
  }

  /** The version a key under adapters/<task>/ is the manifest of, or null when it is not a manifest's key. */
  manifestVersion(taskPrefix: string, key: string): string | null {
    const parts = key.slice(taskPrefix.length).split('/');
    return parts.length === 2 && parts[1] === MANIFEST_FILE && VERSION_RE.test(parts[0]) ? parts[0] : null;
  }
}
