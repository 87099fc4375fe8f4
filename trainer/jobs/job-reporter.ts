/**
 * What a run reports, for a plain job or one point of a sweep (point-place.ts): its status (serialised and throttled:
 * S3 PUTs are not free and order matters; a succeeded status is final), and its events (batched into
 * the job's event log, state changes at once). The two differ only in where they write, which a
 * ReportPlace describes:
 * - a job: jobs/<id>/status.json, and the trainer's whole event stream in the job's log;
 * - a sweep point: jobs/<id>/points/<i>/status.json with the point's own fields, and only its start and
 *   end in the job's log (the points' steps would interleave in one chart).
 */
import type { JobStatus, PointStatus } from '../../shared/job.ts';
import { endEvent, endPatch, type JobEnd } from '../../shared/job-end.ts';
import { type NewJobEvent, newJobEvent } from '../../shared/job-events.ts';
import type { Registry } from '../../shared/registry/index.ts';
import type { JobEvent, TrainerEvent } from '../../shared/trainer-events.ts';
import { JobEventLog } from './event-log.ts';
import { TrainerEventMapper } from './job-events.ts';

/** What a trained point reports beyond a job's fields: its scores (sweep-reduce.ts selects on them). */
export type PointResult = Pick<PointStatus, 'seeds' | 'score' | 'best' | 'trainablePercent'>;

/** A run's status: a job's fields, and a point's result once it has one. */
export type RunStatus = JobStatus & PointResult;

export interface ReportPlace {
  /** The sweep point reported (its checkpoint and staged adapter live under points/<i>/); undefined: the job itself. */
  readonly point: number | undefined;
  /** Whether the trainer's own events (steps, evaluations, checkpoints) go into the job's log. */
  readonly logsTraining: boolean;
  write(registry: Registry, status: RunStatus): Promise<void>;
  started(): NewJobEvent;
  /** The event `end` means here, or null where it is not this place's to log. */
  ended(end: JobEnd): NewJobEvent | null;
}

/** A plain job (or a sweep's own status, written by its local runner and its reduce step). */
export const jobPlace: ReportPlace = {
  point: undefined,
  logsTraining: true,
  write: (registry, { seeds: _s, score: _c, best: _b, trainablePercent: _t, ...status }) => registry.jobs.putStatus(status),
  started: () => newJobEvent('running', 'the job is running', {}),
  ended: (end) => endEvent(end),
};

export interface JobReporterOptions {
  registry: Registry;
  jobId: string;
  place: ReportPlace;
  /** The status to report from (the first write is the caller's). */
  status: JobStatus;
  log: (event: JobEvent) => void;
  /** Minimum seconds between throttled status writes (default 5). */
  statusInterval?: number;
  /** The event log: a metrics event every `metricsEvery` steps (10), pages of up to `pageEvents` (100) written at least every `pageIntervalMs` (5000). */
  events?: { metricsEvery?: number; pageEvents?: number; pageIntervalMs?: number };
}

const now = () => new Date().toISOString();

export class JobReporter {
  private current: RunStatus;
  private writing: Promise<void> = Promise.resolve();
  private lastWrite = 0;
  private readonly mapper: TrainerEventMapper;
  private readonly events: JobEventLog;

  constructor(private readonly o: JobReporterOptions) {
    this.current = o.status;
    this.mapper = new TrainerEventMapper(o.events?.metricsEvery);
    this.events = new JobEventLog({
      registry: o.registry,
      jobId: o.jobId,
      maxEvents: o.events?.pageEvents,
      intervalMs: o.events?.pageIntervalMs,
      onError: (err) => o.log({ event: 'events-write-failed', job: o.jobId, error: err.message }),
    });
  }

  get status(): RunStatus {
    return this.current;
  }

  /** Merges `patch` into the status and writes it: at once when `force`, else at most every statusInterval seconds. */
  update(patch: Partial<RunStatus>, force = false): Promise<void> {
    if (this.current.state === 'succeeded') return this.writing; // published: final, whatever comes after
    this.current = { ...this.current, ...patch, updatedAt: now() };
    if (!force && Date.now() - this.lastWrite < (this.o.statusInterval ?? 5) * 1000) return this.writing;
    this.lastWrite = Date.now();
    const snapshot = this.current;
    this.writing = this.writing
      .then(() => this.o.place.write(this.o.registry, snapshot))
      .catch((err) => this.o.log({ event: 'status-write-failed', job: this.o.jobId, error: (err as Error).message }));
    return this.writing;
  }

  /** Adds an event to the job's log (`now`: written at once, e.g. a state change). */
  event(e: NewJobEvent, now = false): void {
    this.events.add(e, now);
  }

  /** Writes the status and logs the place's start. */
  async start(event: NewJobEvent = this.o.place.started()): Promise<void> {
    await this.update({}, true);
    this.event(event, true);
  }

  /** A line of the trainer's (or run-job's) own log: printed, and for a job, recorded and reflected in its status. */
  trainerEvent(event: JobEvent): void {
    this.o.log(event);
    if (!this.o.place.logsTraining) return;
    // A resume is written at once: where each run of the job started from is never lost to a kill.
    for (const e of this.mapper.map(event)) this.events.add(e, e.type === 'resumed');
  }

  /** The progress a trainer event carries into the status (a job's and a point's alike). */
  progress(event: TrainerEvent): void {
    const patch = statusPatch(event);
    if (patch) void this.update(patch.status, patch.now);
  }

  /** A checkpoint now in the registry. */
  checkpointSaved(step: number): void {
    if (this.o.place.logsTraining) this.events.add(this.mapper.checkpointSaved(step));
  }

  /** Ends the run as `end` says (or re-queues it): the status at once, then its event, all written before this resolves. */
  async end(end: JobEnd): Promise<void> {
    await this.update(endPatch(end, now()), true);
    const e = this.o.place.ended(end);
    if (e) this.events.add(e, true);
    await this.flush();
  }

  /** Succeeds the run: `patch` (e.g. its adapter version) into the status, then `events`, all written before this resolves. */
  async succeed(patch: Partial<RunStatus>, events: NewJobEvent[]): Promise<void> {
    await this.update({ ...patch, state: 'succeeded', finishedAt: now() }, true);
    for (const e of events) this.events.add(e);
    await this.flush();
  }

  /** Resolves once every status write and event page so far has ended. */
  async flush(): Promise<void> {
    await this.events.flush();
    await this.writing;
  }
}

/** What a trainer event changes in the status; `now` when it must be written at once (else throttled). */
function statusPatch(event: TrainerEvent): { status: Partial<JobStatus>; now: boolean } | null {
  switch (event.event) {
    case 'start':
      return { status: { totalSteps: event.totalSteps }, now: true };
    case 'step':
      return { status: { step: event.step, epoch: event.epoch, loss: event.loss, totalSteps: event.totalSteps }, now: false };
    case 'validation': {
      const { loss, accuracy, macroF1, mcc, examples } = event;
      return { status: { validation: { loss, accuracy, macroF1, mcc, examples } }, now: true };
    }
    default:
      return null;
  }
}
