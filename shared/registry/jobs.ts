/**
 * A job's objects (jobs/<id>/...) and the listing index (job-index/...): its spec, status, cancel
 * request and launch record, its checkpoints, a sweep's points, and its event log.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKPOINT_FILES, CHECKPOINT_POINTER, type CheckpointPointer, parseCheckpointPointer } from '../checkpoint-layout.ts';
import type { JobSpec, JobStatus, PointStatus } from '../job.ts';
import {
  JOB_EVENT_ID_RE,
  JOB_EVENT_SEQ_DIGITS,
  type JobEventPage,
  type JobEventRecord,
  jobEventId,
  MAX_EVENTS_PER_PAGE,
  type NewJobEvent,
} from '../job-events.ts';
import { adapterFilesIn } from './adapters.ts';
import { RegistryError } from './error.ts';
import { JOB_FILES, slug } from './layout.ts';
import type { RegistryObjects } from './objects.ts';

export class JobStore {
  constructor(private readonly objects: RegistryObjects) {}

  private get layout() {
    return this.objects.layout;
  }

  // --- spec, index, status, cancel, launch -----------------------------------------------------------

  /** Writes the spec (once), then the job's entries in the listing index (all jobs, and its task's). */
  async create(spec: JobSpec): Promise<void> {
    await this.objects.putJson(this.layout.jobFile(spec.jobId, JOB_FILES.spec), spec, { ifNoneMatch: true });
    for (const task of [undefined, slug('task', spec.task)]) {
      await this.objects.put(this.layout.jobIndexEntry(spec, task), '', { ifNoneMatch: true });
    }
  }

  /** Job ids, newest first, `limit` at a time; `after` (a job id) continues from the previous page. */
  async listIds(o: { task?: string; limit: number; after?: string }): Promise<{ ids: string[]; hasMore: boolean }> {
    const prefix = this.layout.jobIndexPrefix(o.task);
    const startAfter = o.after === undefined ? undefined : this.layout.jobIndexEntry(await this.spec(o.after), o.task);
    const page = await this.objects.listPage({ prefix, startAfter, maxKeys: o.limit + 1 });
    const ids = page.keys.map((c) => this.layout.jobIdOfIndexEntry(c.key.slice(prefix.length)));
    return { ids: ids.slice(0, o.limit), hasMore: ids.length > o.limit || page.next !== undefined };
  }

  async spec(jobId: string): Promise<JobSpec> {
    const key = this.layout.jobFile(jobId, JOB_FILES.spec);
    const spec = await this.objects.getJson<JobSpec>(key);
    if (!spec) throw new RegistryError(`job "${jobId}" has no spec at ${this.objects.uriOf(key)}`, 'not-found');
    return spec;
  }

  async putStatus(status: JobStatus): Promise<void> {
    await this.objects.putJson(this.layout.jobFile(status.jobId, JOB_FILES.status), status);
  }

  async status(jobId: string): Promise<JobStatus | null> {
    return this.objects.getJson<JobStatus>(this.layout.jobFile(jobId, JOB_FILES.status));
  }

  /**
   * The cancel request, written once by the API before it stops the job. Only the API writes it, so
   * neither a trainer's last status write nor its SIGTERM report can overwrite a cancel.
   */
  async requestCancel(jobId: string, record: { requestedAt: string }): Promise<void> {
    try {
      await this.objects.putJson(this.layout.jobFile(jobId, JOB_FILES.cancel), record, { ifNoneMatch: true });
    } catch (err) {
      if (!(err instanceof RegistryError && err.code === 'conflict')) throw err; // cancelled before: same outcome
    }
  }

  async cancelRequest(jobId: string): Promise<{ requestedAt: string } | null> {
    return this.objects.getJson<{ requestedAt: string }>(this.layout.jobFile(jobId, JOB_FILES.cancel));
  }

  /** The launcher's handle (Batch job id, local pid), for cancel and describe. */
  async putLaunch(jobId: string, launch: unknown): Promise<void> {
    await this.objects.putJson(this.layout.jobFile(jobId, JOB_FILES.launch), launch);
  }

  async launch<T>(jobId: string): Promise<T | null> {
    return this.objects.getJson<T>(this.layout.jobFile(jobId, JOB_FILES.launch));
  }

  // --- checkpoints -----------------------------------------------------------------------------------

  /**
   * Copies a checkpoint folder (`dir`/<step>/, shared/checkpoint-layout.ts) into the job's (or its sweep
   * point's) checkpoint/: the folder's files create-only, then the pointer, then the objects of older
   * checkpoints are deleted. Killed at any moment, the registry's pointer names a complete checkpoint.
   */
  async uploadCheckpoint(jobId: string, dir: string, pointer: CheckpointPointer, point?: number): Promise<void> {
    const prefix = this.layout.checkpointPrefix(jobId, point);
    const folder = `${prefix}${pointer.folder}/`;
    // What is there already is not what the pointer names (it never names a folder being written):
    // an upload of the same step that was cut off, by this job's earlier attempt.
    for (const { key } of (await this.objects.list(folder)).keys) await this.objects.delete(key);
    await this.objects.uploadFiles(join(dir, pointer.folder), folder, CHECKPOINT_FILES, true);
    await this.objects.put(prefix + CHECKPOINT_POINTER, JSON.stringify(pointer), { contentType: 'application/json' });
    for (const { key } of (await this.objects.list(prefix)).keys)
      if (!key.startsWith(folder) && key !== prefix + CHECKPOINT_POINTER) await this.objects.delete(key);
  }

  /**
   * Copies the checkpoint the job's (or its sweep point's) pointer names into `dir` (its folder, then the
   * pointer, as the trainer lays it out); returns its pointer, or null when the job has none yet.
   */
  async downloadCheckpoint(jobId: string, dir: string, point?: number): Promise<CheckpointPointer | null> {
    const prefix = this.layout.checkpointPrefix(jobId, point);
    const pointerUri = this.objects.uriOf(prefix + CHECKPOINT_POINTER);
    const raw = await this.objects.getBuffer(prefix + CHECKPOINT_POINTER);
    if (!raw) return null;
    let pointer: CheckpointPointer;
    try {
      pointer = parseCheckpointPointer(raw.toString('utf8'), pointerUri);
    } catch (err) {
      throw new RegistryError((err as Error).message, 'corrupt');
    }
    const files = await this.objects.downloadPrefix(`${prefix}${pointer.folder}/`, join(dir, pointer.folder));
    if (files < CHECKPOINT_FILES.length) throw new RegistryError(`${pointerUri} names ${pointer.folder}/, which is incomplete`, 'corrupt');
    await writeFile(join(dir, CHECKPOINT_POINTER), JSON.stringify(pointer));
    return pointer;
  }

  // --- a sweep's points: each one's status and staged adapter ----------------------------------------

  async putPointStatus(status: PointStatus): Promise<void> {
    await this.objects.putJson(this.layout.pointStatus(status.jobId, status.point), status);
  }

  async pointStatus(jobId: string, point: number): Promise<PointStatus | null> {
    return this.objects.getJson<PointStatus>(this.layout.pointStatus(jobId, point));
  }

  /** Stages a trained point's adapter files, those a version would hold (not a version: nothing lists or serves them). */
  async uploadPointAdapter(jobId: string, point: number, dir: string): Promise<void> {
    await this.objects.uploadFiles(dir, this.layout.pointAdapterPrefix(jobId, point), adapterFilesIn(dir), false);
  }

  /** Copies a point's staged adapter into `dir`; returns how many files there were. */
  async downloadPointAdapter(jobId: string, point: number, dir: string): Promise<number> {
    return this.objects.downloadPrefix(this.layout.pointAdapterPrefix(jobId, point), dir);
  }

  // --- the event log: immutable pages, appended by the API and the trainer ---------------------------

  private eventPageKey(jobId: string, seq: number): string {
    return `${this.layout.jobEventsPrefix(jobId)}${String(seq).padStart(JOB_EVENT_SEQ_DIGITS, '0')}.json`;
  }

  /** The seq after the job's last event page (0 when it has none). */
  async nextEventSeq(jobId: string): Promise<number> {
    const prefix = this.layout.jobEventsPrefix(jobId);
    const { keys } = await this.objects.list(prefix);
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
  async appendEvents(jobId: string, events: readonly NewJobEvent[], seq?: number): Promise<{ seq: number; events: JobEventRecord[] }> {
    if (events.length === 0 || events.length > MAX_EVENTS_PER_PAGE)
      throw new RegistryError(`an event page holds 1 to ${MAX_EVENTS_PER_PAGE} events, not ${events.length}`, 'invalid');
    let at = seq ?? (await this.nextEventSeq(jobId));
    for (let attempt = 0; ; attempt++) {
      const records = events.map((e, i) => ({ object: 'finetune.event', id: jobEventId(at, i), ...e }) as JobEventRecord);
      const page: JobEventPage = { format: 'adapter-store.job-events/v1', jobId, seq: at, events: records };
      try {
        await this.objects.put(this.eventPageKey(jobId, at), JSON.stringify(page), { ifNoneMatch: true, contentType: 'application/json' });
        return { seq: at, events: records };
      } catch (err) {
        if (!(err instanceof RegistryError && err.code === 'conflict') || attempt >= 10) throw err;
        at = Math.max(at + 1, await this.nextEventSeq(jobId));
      }
    }
  }

  /**
   * A job's events in recorded order: those after the event id `after`, at most `limit` (all when absent).
   * Reads only the pages from `after`'s on.
   */
  async listEvents(jobId: string, o: { after?: string; limit?: number } = {}): Promise<{ events: JobEventRecord[]; hasMore: boolean }> {
    if (o.after !== undefined && !JOB_EVENT_ID_RE.test(o.after))
      throw new RegistryError(`event id "${o.after}" is not an event id (like 00000003-0012)`, 'invalid');
    const prefix = this.layout.jobEventsPrefix(jobId);
    // "<seq>" sorts just before "<seq>.json": the listing starts at the cursor's own page.
    const startAfter = o.after === undefined ? undefined : prefix + o.after.slice(0, JOB_EVENT_SEQ_DIGITS);
    const events: JobEventRecord[] = [];
    let token: string | undefined;
    do {
      const page = await this.objects.listPage({ prefix, startAfter, continuationToken: token });
      for (const { key } of page.keys) {
        if (!/^\d+\.json$/.test(key.slice(prefix.length))) continue;
        const stored = await this.objects.getJson<JobEventPage>(key);
        if (!stored || !Array.isArray(stored.events)) throw new RegistryError(`${this.objects.uriOf(key)} is not an event page`, 'corrupt');
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
}
