/**
 * A job's lifecycle as the API shows it: queued -> running -> succeeded | failed | cancelled (and back to
 * queued when a stopped run will resume). What a job *is* comes from several records, each written by one
 * party (the JobFacts); `jobView` is the one pure rule that reads them, used by GET /finetune/:id, the list
 * and the cancel route. Browser-safe (no value import pulls in a schema library): the console reads
 * `isFinal` from here too.
 */
import type { JobMetrics, JobSpec, JobState, JobStatus, PointStatus } from './job.ts';
import type { BelowMajority } from './majority-baseline.ts';
import { isSweep, sweepSettings } from './sweep.ts';
import type { SelectionMetric } from './vocabulary.ts';

/** The states a job never leaves. */
export const FINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export function isFinal(state: string): boolean {
  return (FINAL_STATES as readonly string[]).includes(state);
}

/** A job queued this long with no launch record was never submitted (the API died in between). */
export const LAUNCH_GRACE_MS = 5 * 60 * 1000;

/** What the launcher (AWS Batch, the local runner) says of a job, in its own words when it gives a reason. */
export interface LauncherReport {
  state: JobState | 'unknown';
  /** Why it failed or was cancelled, e.g. Batch's statusReason ("... RUNNABLE for too long"), an exit code. */
  reason?: string;
}

/** Everything that speaks of a job; each field written by one party. Absent fields were not read (see `factsToRead`). */
export interface JobFacts {
  /** jobs/<id>/spec.json (the API, once). */
  spec: JobSpec;
  /** jobs/<id>/status.json (the trainer; the API only before launch); null before the first write. */
  status: JobStatus | null;
  /** A sweep's points/<i>/status.json, one per point (null: not started); empty for a plain job. */
  points: readonly (PointStatus | null)[];
  /** jobs/<id>/cancel.json (the API, on request). */
  cancel: { requestedAt: string } | null;
  /** Whether jobs/<id>/launch.json exists (undefined: not read, so no judgement on "never launched"). */
  launched?: boolean;
  /** The launcher's description of the job, when it was asked. */
  launcher?: LauncherReport;
  /** The adapter version whose manifest names this job, when one was looked for and found. */
  publishedVersion?: string | null;
  /** The selection metric a sweep uses when its spec names none (the trainer's default). */
  defaultMetric: SweepView['metric'];
  now: string;
}

/** Which of the costly facts can change the view, given the cheap ones (status, cancel): read only those. */
export function factsToRead(f: Pick<JobFacts, 'status' | 'cancel'>): { launcher: boolean } {
  return { launcher: !f.cancel && !isFinal(f.status?.state ?? 'queued') };
}

/** Whether a manifest naming the job can change the view: a cancel, or an end the trainer did not report as a success. */
export function publicationMatters(f: Pick<JobFacts, 'status' | 'cancel' | 'launcher'>): boolean {
  const state = f.status?.state ?? 'queued';
  if (state === 'succeeded') return false;
  return f.cancel !== null || state === 'cancelled' || (f.launcher?.state === 'succeeded' && !isFinal(state));
}

export interface SweepPointView {
  point: number;
  settings: Record<string, unknown>;
  status: JobState;
  progress: { step: number; totalSteps: number; fraction: number };
  score: number | null;
  metrics: JobMetrics | null;
  error: { message: string } | null;
}

export interface SweepView {
  metric: SelectionMetric;
  points: SweepPointView[];
  bestPoint: number | null;
}

/** A job as GET /finetune/:id and the list show it (functions/schemas.ts JobSchema). */
export interface JobView {
  object: 'finetune.job';
  jobId: string;
  status: JobState;
  task: string;
  baseModel: string;
  datasetUri: string;
  validationUri: string | null;
  hyperparameters: JobSpec['hyperparameters'];
  createdAt: string;
  updatedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  progress: { step: number; totalSteps: number; epoch: number; fraction: number };
  loss: number | null;
  metrics: JobMetrics | null;
  adapterVersion: string | null;
  error: { message: string } | null;
  sweep: SweepView | null;
  belowMajority: BelowMajority | null;
  /** Why a queued job has not started, when the launcher says (Batch's RUNNABLE reason). */
  waiting: { reason: string } | null;
}

/**
 * What a job is, from everything that speaks of it:
 * - a manifest naming the job: succeeded (a published version is never taken back by a cancel);
 * - else a cancel request (cancel.json, written only by the API): cancelled, whatever a stopping trainer
 *   wrote last;
 * - else status.json, merged with the launcher's view while not final: a container that died before
 *   reporting reads failed (or cancelled, when the launcher cancelled it), with the launcher's reason;
 *   one that exited 0 without a manifest failed too;
 * - a job still queued with no launch record well after its creation was never launched (the API stopped
 *   between recording and submitting it): failed, so it neither hangs nor counts as queued.
 * A sweep is running once a point has started; a sweep that ended other than succeeded ends its unfinished points.
 */
export function jobView(f: JobFacts): JobView {
  const reported = f.status;
  let state: JobState = reported?.state ?? 'queued';
  let error = reported?.error ?? null;
  let finishedAt = reported?.finishedAt ?? null;
  let adapterVersion = reported?.adapterVersion ?? null;
  const end = (s: JobState, e: { message: string } | null, at: string) => {
    state = s;
    error = e;
    finishedAt ??= at;
  };
  if (state !== 'succeeded') {
    if (f.publishedVersion && publicationMatters(f)) {
      end('succeeded', null, f.now);
      adapterVersion = f.publishedVersion;
    } else if (f.cancel) {
      end('cancelled', null, f.cancel.requestedAt);
    } else if (f.launcher?.state === 'succeeded' && !isFinal(state)) {
      end('failed', { message: 'the job exited without publishing an adapter or reporting why' }, f.now);
    } else if (f.launched === false && state === 'queued' && Date.parse(f.now) - Date.parse(f.spec.createdAt) > LAUNCH_GRACE_MS) {
      end('failed', { message: 'the job was never launched (the API stopped before submitting it); submit it again' }, f.now);
    } else if (f.launcher && !isFinal(state)) {
      // The launcher's end stands where the trainer could not report one; its reason is the job's error.
      const { state: said, reason } = f.launcher;
      if (said === 'failed') error = { message: reason ?? 'the job stopped without reporting why' };
      if (said === 'cancelled' && reason !== undefined) error = { message: reason };
      if (said === 'failed' || said === 'cancelled') state = said;
      else if (said === 'running' && state === 'queued') state = 'running';
    }
  }
  const sweep = sweepView(f, state);
  // A sweep's points run under it: it is running once one has started, and its progress is theirs.
  if (sweep && state === 'queued' && sweep.points.some((p) => p.status !== 'queued')) state = 'running';
  const sum = (of: (p: SweepPointView) => number) => (sweep ? sweep.points.reduce((n, p) => n + of(p), 0) : 0);
  const step = sweep ? sum((p) => p.progress.step) : (reported?.step ?? 0);
  const totalSteps = sweep ? sum((p) => p.progress.totalSteps) : (reported?.totalSteps ?? 0);
  const fraction =
    state === 'succeeded'
      ? 1
      : sweep
        ? sum((p) => p.progress.fraction) / sweep.points.length
        : totalSteps > 0
          ? Math.min(1, step / totalSteps)
          : 0;
  const { spec } = f;
  return {
    object: 'finetune.job',
    jobId: spec.jobId,
    status: state,
    task: spec.task,
    baseModel: spec.baseModel,
    datasetUri: spec.datasetUri,
    validationUri: spec.validationUri ?? null,
    hyperparameters: spec.hyperparameters,
    createdAt: spec.createdAt,
    updatedAt: reported?.updatedAt ?? null,
    startedAt: reported?.startedAt ?? null,
    finishedAt,
    progress: { step, totalSteps, epoch: reported?.epoch ?? 0, fraction },
    loss: reported?.loss ?? null,
    metrics: reported?.validation ?? null,
    adapterVersion,
    error,
    sweep,
    belowMajority: reported?.belowMajority ?? null,
    waiting: state === 'queued' && f.launcher?.state === 'queued' && f.launcher.reason ? { reason: f.launcher.reason } : null,
  };
}

/** A sweep's points as the job shows them (null for a plain job); unfinished points of a sweep that did not succeed end with it. */
function sweepView(f: JobFacts, state: JobState): SweepView | null {
  const h = f.spec.hyperparameters;
  if (!isSweep(h)) return null;
  const settings = sweepSettings(h);
  const endsPoints = isFinal(state) && state !== 'succeeded';
  return {
    metric: h.metric ?? f.defaultMetric,
    points: settings.map((pointSettings, point) => {
      const p = f.points[point] ?? null;
      const status = p?.state ?? 'queued';
      return {
        point,
        settings: pointSettings,
        status: endsPoints && !isFinal(status) ? state : status,
        progress: {
          step: p?.step ?? 0,
          totalSteps: p?.totalSteps ?? 0,
          fraction: p && isFinal(p.state) ? 1 : p?.totalSteps ? Math.min(1, p.step / p.totalSteps) : 0,
        },
        score: p?.score ?? null,
        metrics: p?.state === 'succeeded' ? (p.best ?? null) : (p?.validation ?? null),
        error: p?.error ?? null,
      };
    }),
    bestPoint: f.status?.sweep?.bestPoint ?? null,
  };
}

/** Whether a run should (re)start the job: its status says unfinished and no cancel was asked. */
export function awaitsRunner(status: JobStatus | null, cancel: { requestedAt: string } | null): boolean {
  return (status?.state === 'queued' || status?.state === 'running') && cancel === null;
}
