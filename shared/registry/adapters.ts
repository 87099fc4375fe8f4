/**
 * Adapter versions (adapters/<task>/<version>/...): publishing one, listing a task's versions and the
 * tasks, reading manifests, and the one answer to "which version does a reader get when it names none":
 * latest(task), the newest version whose manifest is sound. Versions are never overwritten: every object
 * of a version is written create-only (If-None-Match: * on S3; servers that ignore the header still cannot
 * collide, since version ids carry a millisecond timestamp and 64 random bits).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { AdapterManifest, ManifestFile } from '../manifest.ts';
import type { ObjectBody } from '../object-store.ts';
import { FileMismatchError, verifiedBody } from '../verified-body.ts';
import { RegistryError } from './error.ts';
import {
  ADAPTER_FILES,
  contentTypeOf,
  isFromTheFuture,
  MANIFEST_FILE,
  newVersionId,
  OPTIONAL_ADAPTER_FILES,
  PREFIXES,
  SLUG_RE,
  slug,
  VERSION_RE,
  versionId,
} from './layout.ts';
import type { RegistryObjects } from './objects.ts';

/** The files of an adapter directory that a version holds: the required ones, then the optional ones present. */
export function adapterFilesIn(dir: string): string[] {
  return [...ADAPTER_FILES, ...OPTIONAL_ADAPTER_FILES.filter((name) => existsSync(join(dir, name)))];
}

/** Manifests kept in memory after a read: they never change once written. */
const MANIFEST_CACHE_ENTRIES = 1024;
/** Tasks whose latest() is remembered at once (the oldest answer goes first). */
const LATEST_CACHE_ENTRIES = 1024;
/** How long latest(task) is remembered by default (ms): a version another process publishes shows after this. */
export const DEFAULT_LATEST_TTL_MS = 1000;

export interface AdapterStoreOptions {
  /** How long latest(task) is remembered, in ms (0: never; read the store every time). */
  latestTtlMs?: number;
  /** A monotonic clock in ms for that TTL (tests move it by hand). */
  clock?: () => number;
}

/** What latest(task) answers. */
export interface LatestVersion {
  /** The task's visible versions, newest first. */
  versions: string[];
  /** The newest of them whose manifest is sound; null when the task has none. */
  manifest: AdapterManifest | null;
}

interface LatestAnswer extends LatestVersion {
  /** The newer versions passed over, for each caller's onCorrupt. */
  corrupt: { version: string; error: RegistryError }[];
}

interface RememberedLatest {
  answer: Promise<LatestAnswer>;
  expiresAt: number;
  /** publishedHere's count for the task when the read began. */
  publishes: number;
  /** The versions the answer listed, once it has resolved. */
  versions?: ReadonlySet<string>;
}

/**
 * Versions this process published, per registry and task, whatever Registry instance published them: a
 * remembered latest() that began before the last of them is stale.
 */
const publishedHere = new Map<string, number>();

export class AdapterStore {
  /** Manifests read so far, least recently used first (a Map keeps insertion order). */
  private readonly manifests = new Map<string, AdapterManifest>();
  private readonly latestAnswers = new Map<string, RememberedLatest>();
  private readonly latestTtlMs: number;
  private readonly clock: () => number;

  constructor(
    private readonly objects: RegistryObjects,
    o: AdapterStoreOptions = {},
  ) {
    this.latestTtlMs = o.latestTtlMs ?? DEFAULT_LATEST_TTL_MS;
    if (!Number.isFinite(this.latestTtlMs) || this.latestTtlMs < 0)
      throw new RegistryError(`latestTtlMs ${this.latestTtlMs} is not a number of milliseconds (0 or more)`, 'invalid');
    this.clock = o.clock ?? (() => performance.now());
  }

  private get layout() {
    return this.objects.layout;
  }

  private publishedKey(task: string): string {
    return `${this.objects.uri}\n${task}`;
  }

  /**
   * Publishes an adapter directory as a new immutable version: data files first, the manifest last.
   * Returns the manifest. Nothing of a failed publish is visible (no manifest).
   */
  async publish(
    dir: string,
    meta: Omit<AdapterManifest, 'format' | 'version' | 'createdAt' | 'files'>,
    version = newVersionId(),
  ): Promise<AdapterManifest> {
    const task = slug('task', meta.task);
    if (!VERSION_RE.test(version) || isFromTheFuture(version, Date.now())) {
      throw new RegistryError(`version "${version}" is not a version id of now (ids carry their creation time)`, 'invalid');
    }
    const files: ManifestFile[] = [];
    for (const name of adapterFilesIn(dir)) {
      const body = await readFile(join(dir, name));
      files.push({ name, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
      await this.objects.put(this.fileKey(task, version, name), body, { ifNoneMatch: true, contentType: contentTypeOf(name) });
    }
    const manifest: AdapterManifest = { format: 'adapter-store.manifest/v1', version, createdAt: new Date().toISOString(), files, ...meta };
    await this.objects.putJson(this.fileKey(task, version, MANIFEST_FILE), manifest, { ifNoneMatch: true });
    const key = this.publishedKey(task);
    publishedHere.set(key, (publishedHere.get(key) ?? 0) + 1);
    return manifest;
  }

  /** Visible versions of a task (those with a manifest), newest first. Always read from the store. */
  async versions(task: string): Promise<string[]> {
    const prefix = this.layout.task(task);
    const { keys } = await this.objects.list(prefix);
    const now = Date.now();
    return keys
      .map((k) => this.layout.manifestVersion(prefix, k.key))
      .filter((v): v is string => v !== null && !isFromTheFuture(v, now))
      .sort()
      .reverse();
  }

  /**
   * A task's visible versions (newest first) and the newest of them whose manifest is sound, the one a
   * reader serves when no version is named: a corrupt manifest is passed over (told to `onCorrupt`, on
   * every call), never used. The answer is remembered for the TTL (one listing per task per TTL however
   * many requests ask), and forgotten as soon as this process publishes a version of the task.
   */
  async latest(task: string, onCorrupt?: (version: string, err: RegistryError) => void): Promise<LatestVersion> {
    slug('task', task);
    const answer = await this.rememberedLatest(task);
    for (const { version, error } of answer.corrupt) onCorrupt?.(version, error);
    return { versions: [...answer.versions], manifest: answer.manifest };
  }

  /**
   * Tells the cache a version of the task exists (a job's status named it): a remembered answer that does
   * not list it is forgotten, so a version another process published shows before the TTL runs out.
   */
  sawVersion(task: string, version: string): void {
    const remembered = this.latestAnswers.get(task);
    if (remembered?.versions && !remembered.versions.has(version)) this.latestAnswers.delete(task);
  }

  private rememberedLatest(task: string): Promise<LatestAnswer> {
    const now = this.clock();
    const publishes = publishedHere.get(this.publishedKey(task)) ?? 0;
    const remembered = this.latestAnswers.get(task);
    if (remembered && now < remembered.expiresAt && remembered.publishes === publishes) return remembered.answer;
    const answer = this.readLatest(task);
    if (this.latestTtlMs > 0) {
      const entry: RememberedLatest = { answer, expiresAt: now + this.latestTtlMs, publishes };
      this.latestAnswers.delete(task);
      this.latestAnswers.set(task, entry);
      if (this.latestAnswers.size > LATEST_CACHE_ENTRIES) this.latestAnswers.delete(this.latestAnswers.keys().next().value!);
      answer.then(
        (a) => {
          entry.versions = new Set(a.versions);
        },
        () => {},
      );
      // A failed read is not remembered: the next caller tries again.
      answer.catch(() => {
        if (this.latestAnswers.get(task) === entry) this.latestAnswers.delete(task);
      });
    }
    return answer;
  }

  private async readLatest(task: string): Promise<LatestAnswer> {
    const versions = await this.versions(task);
    const corrupt: LatestAnswer['corrupt'] = [];
    for (const version of versions) {
      const manifest = await this.manifest(task, version).catch((err: unknown) => {
        if (!(err instanceof RegistryError) || err.code !== 'corrupt') throw err;
        corrupt.push({ version, error: err });
        return null;
      });
      if (manifest) return { versions, manifest, corrupt };
    }
    return { versions, manifest: null, corrupt };
  }

  /**
   * The version a job published, if it did: a job killed after its manifest was written but before its
   * status said so publishes nothing again when it is run again. Reads only the versions made since `since`
   * (the job's creation; version ids start with their time, less an hour for hosts' clocks).
   */
  async findJobVersion(task: string, jobId: string, since: string): Promise<AdapterManifest | null> {
    const prefix = this.layout.task(task);
    const from = Date.parse(since) - 3600_000;
    const startAfter = Number.isFinite(from) ? prefix + newVersionId(new Date(from)).split('-')[0] : undefined;
    let token: string | undefined;
    do {
      const page = await this.objects.listPage({ prefix, startAfter, continuationToken: token });
      for (const { key } of page.keys) {
        const version = this.layout.manifestVersion(prefix, key);
        if (version === null) continue;
        const manifest = await this.manifest(task, version);
        if (manifest?.jobId === jobId) return manifest;
      }
      token = page.next;
    } while (token);
    return null;
  }

  /** A version's manifest (null if it has none). Kept in memory once read: a manifest never changes. */
  async manifest(task: string, version: string): Promise<AdapterManifest | null> {
    versionId(version);
    if (isFromTheFuture(version, Date.now())) return null;
    const key = this.fileKey(task, version, MANIFEST_FILE);
    const cached = this.manifests.get(key);
    if (cached) {
      this.manifests.delete(key); // most recently used goes last
      this.manifests.set(key, cached);
      return cached;
    }
    const manifest = await this.objects.getJson<AdapterManifest>(key);
    if (manifest) {
      // The path names the version and task; a manifest that says otherwise is not served (its version would
      // become a cache key and an ETag).
      if (manifest.version !== version || manifest.task !== task || !Array.isArray(manifest.files)) {
        throw new RegistryError(`${this.objects.uriOf(key)} does not describe ${task} version ${version}`, 'corrupt');
      }
      this.manifests.set(key, manifest);
      if (this.manifests.size > MANIFEST_CACHE_ENTRIES) this.manifests.delete(this.manifests.keys().next().value!);
    }
    return manifest;
  }

  /**
   * Tasks with at least one visible version, in name order, a page at a time (`after`: the last task of the
   * previous page). Whether a task has one comes from latest(task), remembered as there.
   */
  async tasks(o: { limit: number; after?: string }): Promise<{ tasks: string[]; hasMore: boolean }> {
    const prefix = this.layout.key(PREFIXES.adapters);
    const tasks: string[] = [];
    // Past a task's every key: its prefix with the "/" raised to the next byte ("0"), since every key under
    // "adapters/<task>/" sorts after "adapters/<task>/" itself and would roll up into the same prefix again.
    const pastTask = (taskPrefix: string) => `${taskPrefix.slice(0, -1)}0`;
    let startAfter = o.after === undefined ? undefined : pastTask(this.layout.task(o.after));
    for (;;) {
      // Task prefixes a page at a time, each checked for a visible version, until the page is full.
      const page = await this.objects.listPage({ prefix, delimiter: '/', startAfter, maxKeys: o.limit + 1 });
      const names = page.prefixes.map((p) => p.slice(prefix.length).replace(/\/$/, '')).filter((t) => SLUG_RE.test(t));
      const visible = await Promise.all(names.map(async (t) => ((await this.latest(t)).versions.length > 0 ? t : null)));
      for (const t of visible) {
        if (t === null) continue;
        if (tasks.length === o.limit) return { tasks, hasMore: true };
        tasks.push(t);
      }
      if (!page.next || page.prefixes.length === 0) return { tasks, hasMore: false };
      startAfter = pastTask(page.prefixes[page.prefixes.length - 1]);
    }
  }

  /** adapters/<task>/<version>/<file> */
  fileKey(task: string, version: string, file: string): string {
    return this.layout.adapterFile(task, version, file);
  }

  /** An adapter file's bytes, streamed (null if there is no such object). */
  async openFile(task: string, version: string, file: string): Promise<ObjectBody | null> {
    return this.objects.get(this.fileKey(task, versionId(version), file));
  }

  /**
   * Copies a visible version's files (those its manifest lists, then the manifest) into `dir`, streamed,
   * each checked against the manifest's size and sha256. Returns the manifest.
   */
  async download(task: string, version: string, dir: string): Promise<AdapterManifest> {
    const manifest = await this.manifest(task, version);
    if (!manifest) throw new RegistryError(`task "${task}" has no version "${version}"`, 'not-found');
    await mkdir(dir, { recursive: true });
    for (const file of manifest.files) {
      const key = this.fileKey(task, version, file.name);
      const uri = this.objects.uriOf(key);
      if (file.name.includes('/') || file.name.startsWith('.'))
        throw new RegistryError(`${uri}: the manifest names a file outside its version`, 'corrupt');
      const body = await this.openFile(task, version, file.name);
      if (!body) throw new RegistryError(`${uri}: listed in the manifest but not in the store`, 'corrupt');
      await pipeline(body.stream, verifiedBody(file, uri), createWriteStream(join(dir, file.name))).catch((err: unknown) => {
        if (err instanceof FileMismatchError) throw new RegistryError(err.message, 'corrupt');
        throw new RegistryError(`reading ${uri} failed: ${(err as Error).message}`, 'storage');
      });
    }
    await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  }
}
