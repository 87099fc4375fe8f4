/**
 * `trainer run-job`: what a Batch container (or the local runner) executes. Reads jobs/<id>/spec.json,
 * trains, keeps jobs/<id>/status.json current, checkpoints into jobs/<id>/checkpoint/ so a retried job
 * continues where the interrupted one stopped, and publishes the adapter as a new registry version.
 *
 * A sweep (shared/sweep.ts) runs as points and a reduce step: each point trains like a job but reports to
 * jobs/<id>/points/<i>/ and stages its adapter there (on AWS one Batch array child per point, its index
 * from AWS_BATCH_JOB_ARRAY_INDEX); the reduce step (sweep-reduce.ts) publishes the best point. Locally
 * one run-job does the points one after another, then the reduce.
 */
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_FILES, type CheckpointPointer } from '../../shared/checkpoint-layout.ts';
import { type Hyperparameters, type JobMetrics, type JobSpec, type JobStatus, type PointStatus, queuedStatus } from '../../shared/job.ts';
import { type NewJobEvent, newJobEvent } from '../../shared/job-events.ts';
import { JobSpecSchema } from '../../shared/job-schema.ts';
import type { Registry } from '../../shared/registry.ts';
import { isSweep, pointSettings, sweepPoints, sweepSize } from '../../shared/sweep.ts';
import type { JobEvent, TrainerEvent } from '../../shared/trainer-events.ts';
import type { Device } from '../sessions/session.ts';
import { summarize } from '../sweep/select.ts';
import { trainDefaults } from '../train/defaults.ts';
import { metricValue } from '../train/metrics.ts';
import type { TrainMetrics } from '../train/trainer.ts';
import { type TrainOptions, train } from '../train/trainer.ts';
import { JobEventLog } from './event-log.ts';
import { TrainerEventMapper } from './job-events.ts';
import { majorityGuard } from './majority-guard.ts';
import { publishJobAdapter } from './publish.ts';
import { reduceSweep, settingsLabel } from './sweep-reduce.ts';

export interface RunJobOptions {
  registry: Registry;
  jobId: string;
  device: Device;
  threads?: number;
  log: (event: JobEvent) => void;
  /** Minimum seconds between status.json writes while training (default 5). */
  statusInterval?: number;
  /** Stop, leaving the job queued, when stdin ends (the local server's children; see LocalRunner). */
  stopWhenStdinCloses?: boolean;
  /** The event log (jobs/<id>/events/): a metrics event every `metricsEvery` steps (10), pages of up to `pageEvents` (100) written at least every `pageIntervalMs` (5000). */
  events?: { metricsEvery?: number; pageEvents?: number; pageIntervalMs?: number };
  /**
   * For a sweep: train this point only (a Batch array child), or only reduce the points (the step after
   * the array). Neither: a plain job, or (a sweep run locally) every point and then the reduce.
   */
  sweepStep?: { point: number } | 'reduce';
  /** Save a checkpoint every N steps (default JOB_CHECKPOINT_EVERY; tests make it small). */
  checkpointEvery?: number;
}

/** Jobs always checkpoint (Spot hosts get reclaimed, a local server gets stopped): every 100 steps by default. */
export const JOB_CHECKPOINT_EVERY = 100;

const CHECKPOINT = 'checkpoint';

/** What AWS Batch sets in every job's container: the job's id. */
const BATCH_JOB_ID_ENV = 'AWS_BATCH_JOB_ID';

/** What AWS Batch sets in each child of an array job: its index (0 ... size - 1). */
export const ARRAY_INDEX_ENV = 'AWS_BATCH_JOB_ARRAY_INDEX';

/** The array index of this Batch array child, if it is one; a malformed value is an error, not point 0. */
export function arrayIndexFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env[ARRAY_INDEX_ENV];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,5}$/.test(raw)) throw new Error(`${ARRAY_INDEX_ENV}="${raw}" is not an array index`);
  return Number(raw);
}
/** How long a stopping job waits for a checkpoint upload in flight (Batch allows 30 s after SIGTERM). */
const STOP_UPLOAD_GRACE_MS = 20_000;

/** The trainer options a job spec asks for, on top of the defaults (`h`: a sweep point's hyperparameters). */
export function trainOptionsFromSpec(
  spec: JobSpec,
  paths: { base: string; data: string; validation?: string; out: string; checkpointDir: string },
  h: Hyperparameters = sweepPoints(spec.hyperparameters)[0],
): Omit<TrainOptions, 'log' | 'device' | 'threads' | 'onCheckpoint' | 'onStep'> {
  return {
    ...trainDefaults,
    ...paths,
    task: spec.task,
    labels: h.labels,
    mode: h.mode ?? trainDefaults.mode,
    bottleneck: h.bottleneck ?? trainDefaults.bottleneck,
    maxSeqLen: h.maxSeqLen,
    nonlinearity: h.nonlinearity ?? trainDefaults.nonlinearity,
    initStd: h.initStd ?? trainDefaults.initStd,
    adapterLayers: h.adapterLayers,
    trainLayernorms: h.trainLayernorms ?? true,
    lr: h.lr ?? trainDefaults.lr,
    weightDecay: h.weightDecay ?? trainDefaults.weightDecay,
    batchSize: h.batchSize ?? trainDefaults.batchSize,
    epochs: h.epochs ?? trainDefaults.epochs,
    // The deployment's compute budget caps the steps too (spec.budget, set by the API at submission).
    maxSteps: spec.budget ? Math.min(h.maxSteps ?? Infinity, spec.budget.maxSteps) : h.maxSteps,
    warmupRatio: h.warmupRatio ?? trainDefaults.warmupRatio,
    dropout: h.dropout ?? trainDefaults.dropout,
    seeds: h.seeds ?? [...trainDefaults.seeds],
    validationSplit: paths.validation ? undefined : h.validationSplit,
    evalSteps: h.evalSteps ?? trainDefaults.evalSteps,
    metric: h.metric ?? trainDefaults.metric,
    earlyStoppingPatience: h.earlyStoppingPatience ?? trainDefaults.earlyStoppingPatience,
    textColumn: h.textColumn,
    textPairColumn: h.textPairColumn,
    labelColumn: h.labelColumn,
    checkpointEvery: JOB_CHECKPOINT_EVERY,
    resume: true,
  };
}

export async function runJob(o: RunJobOptions): Promise<JobStatus> {
  const { registry, jobId } = o;
  const stored = await registry.getJobSpec(jobId);
  // spec.json is re-validated with the API's own schema before anything it names is read: only s3://
  // datasets (never a local path or file:// URL), only slugs for the task and model, bounded training.
  let spec: JobSpec;
  try {
    spec = checkSpec(stored, jobId);
  } catch (err) {
    const at = new Date().toISOString();
    const message = (err as Error).message;
    await registry.putJobStatus({ ...queuedStatus(jobId, at), state: 'failed', error: { message }, startedAt: at, finishedAt: at });
    await registry.appendJobEvents(jobId, [newJobEvent('failed', `the job failed: ${message}`, { reason: message })]);
    throw err;
  }
  const h = spec.hyperparameters;
  if (!isSweep(h)) {
    if (o.sweepStep !== undefined) throw new Error(`job ${jobId} is not a sweep: a point or reduce step does not apply to it`);
    return runTraining(o, spec, { kind: 'job' });
  }
  const points = sweepSize(h);
  if (o.sweepStep === 'reduce') return reduceSweep(o, spec);
  if (o.sweepStep !== undefined) {
    const { point } = o.sweepStep;
    if (!Number.isSafeInteger(point) || point < 0 || point >= points)
      throw new Error(`job ${jobId} sweeps ${points} points (0 to ${points - 1}); there is no point ${point}`);
    await runTraining(o, spec, { kind: 'point', point, local: false });
    return (await registry.getJobStatus(jobId)) ?? queuedStatus(jobId, spec.createdAt);
  }
  // Locally, one process runs the points in turn (a restarted job skips the finished ones), then the reduce.
  const startedAt = new Date().toISOString();
  await registry.putJobStatus({ ...queuedStatus(jobId, startedAt), state: 'running', startedAt });
  await registry.appendJobEvents(jobId, [newJobEvent('running', `the sweep is running: ${points} points, one after another`, {})]);
  for (let point = 0; point < points; point++) {
    const done = await registry.getPointStatus(jobId, point);
    if (done?.state === 'succeeded' || done?.state === 'failed') continue;
    if (await registry.getJobCancel(jobId)) break;
    await runTraining(o, spec, { kind: 'point', point, local: true });
  }
  return reduceSweep(o, spec);
}

/** What one run trains: a plain job, or one point of a sweep (`local`: the whole sweep runs in this process). */
type RunTarget = { kind: 'job' } | { kind: 'point'; point: number; local: boolean };

/**
 * Trains a job, or one point of a sweep, keeping its status current and its checkpoint in the registry;
 * then publishes the adapter (a job) or stages it for the reduce step (a point). A point that fails is
 * recorded as failed and returns (the sweep goes on without it); a job that fails throws.
 */
async function runTraining(o: RunJobOptions, spec: JobSpec, target: RunTarget): Promise<JobStatus> {
  const { registry, jobId } = o;
  const point = target.kind === 'point' ? target.point : undefined;
  const settings = point === undefined ? {} : pointSettings(spec.hyperparameters, point);
  const hyperparameters = sweepPoints(spec.hyperparameters)[point ?? 0];
  const work = mkdtempSync(join(tmpdir(), `job-${jobId}-`));
  const now = () => new Date().toISOString();
  let status: JobStatus = { ...queuedStatus(jobId, now()), state: 'running', startedAt: now() };
  // What a point reports beyond a job's fields: its settings and, once trained, its scores.
  let pointResult: Pick<PointStatus, 'seeds' | 'score' | 'best' | 'trainablePercent'> = {};
  const write = (s: JobStatus): Promise<void> => {
    if (point === undefined) return registry.putJobStatus(s);
    const { format: _f, adapterVersion: _v, sweep: _s, ...fields } = s;
    return registry.putPointStatus({ ...fields, format: 'adapter-store.point-status/v1', point, settings, ...pointResult });
  };
  // Status writes are serialised and throttled: S3 PUTs are not free and order matters.
  let writing: Promise<void> = Promise.resolve();
  let lastWrite = 0;
  const report = (patch: Partial<JobStatus>, force = false) => {
    if (status.state === 'succeeded') return writing; // published: final, whatever comes after
    status = { ...status, ...patch, updatedAt: now() };
    if (!force && Date.now() - lastWrite < (o.statusInterval ?? 5) * 1000) return writing;
    lastWrite = Date.now();
    const snapshot = status;
    writing = writing
      .then(() => write(snapshot))
      .catch((err) => o.log({ event: 'status-write-failed', job: jobId, error: (err as Error).message }));
    return writing;
  };
  await report({}, true);
  // The job's event log: batched into immutable pages (bounded writes); state changes are written at once.
  // A sweep's points log only their start and end there (their steps would interleave in one chart).
  const mapper = new TrainerEventMapper(o.events?.metricsEvery);
  const events = new JobEventLog({
    registry,
    jobId,
    maxEvents: o.events?.pageEvents,
    intervalMs: o.events?.pageIntervalMs,
    onError: (err) => o.log({ event: 'events-write-failed', job: jobId, error: err.message }),
  });
  const log = (event: JobEvent) => {
    o.log(event);
    // A resume is written at once: where each run of the job started from is never lost to a kill.
    if (point === undefined) for (const e of mapper.map(event)) events.add(e, e.type === 'resumed');
  };
  const label = point === undefined ? '' : `point ${point} (${settingsLabel(settings)})`;
  const pointFinished = (state: 'succeeded' | 'failed', score: number | null, reason: string | null) => {
    const message = state === 'succeeded' ? `${label} finished: score ${score ?? 'none'}` : `${label} failed: ${reason}`;
    events.add(newJobEvent('point-finished', message, { point: point!, settings, state, score, reason }), true);
  };
  /** The event a final (or re-queued) status means, written before the process may exit. */
  const recordState = async (patch: Partial<JobStatus>) => {
    if (point === undefined) {
      const e = stateEvent(patch);
      if (e) events.add(e, true);
    } else if (patch.state === 'failed') {
      pointFinished('failed', null, patch.error?.message ?? 'the point failed');
    }
    await events.flush();
  };
  events.add(
    point === undefined
      ? newJobEvent('running', 'the job is running', {})
      : newJobEvent('point-started', `${label} started`, { point, settings }),
    true,
  );

  // Batch (TerminateJob, Spot reclaim) and the local runner stop a job with SIGTERM. Training stops
  // first (at its next step: a step blocks this thread inside onnxruntime); then the job reports the
  // cancel (the API's cancel.json) or the interruption, and exits 143; a retry resumes from the last
  // checkpoint. Once publishing has begun it is not interrupted: it checks cancel.json itself, and a
  // published job reports succeeded, which nothing overwrites.
  let phase: 'preparing' | 'training' | 'publishing' = 'preparing';
  let stopPatch: Partial<JobStatus> | null = null;
  // Checkpoint uploads in flight: a stop lets the current one finish (tensors and state are a pair).
  let uploading: Promise<void> = Promise.resolve();
  const finishStop = async (patch: Partial<JobStatus>): Promise<never> => {
    await Promise.race([uploading, new Promise((r) => setTimeout(r, STOP_UPLOAD_GRACE_MS))]);
    const cancelled = await registry.getJobCancel(jobId).catch(() => null);
    const final = cancelled ? { state: 'cancelled' as const, finishedAt: now() } : patch;
    await report(final, true);
    // A sweep's points never write the job's end, except a local sweep's runner (the API logs a cancel itself).
    if (point === undefined || !cancelled) await recordState(final);
    if (target.kind === 'point' && target.local) {
      await registry.putJobStatus({ ...((await registry.getJobStatus(jobId)) ?? queuedStatus(jobId, now())), ...final, updatedAt: now() });
      const e = cancelled ? null : stateEvent(final);
      if (e) await registry.appendJobEvents(jobId, [e]).catch(() => {});
    }
    await writing;
    rmSync(work, { recursive: true, force: true });
    process.exit(143);
  };
  const stop = (patch: Partial<JobStatus>) => {
    if (stopPatch) return;
    stopPatch = patch;
    // Before training there is nothing to save; while training, the loop stops itself (StopTraining).
    if (phase === 'preparing') void finishStop(patch);
  };
  // A Batch attempt (AWS_BATCH_JOB_ID is set) may be retried after a SIGTERM (a reclaimed Spot host matches the
  // job definition's retry rule): it leaves the job queued, and the API reads Batch's own end (failed, with its
  // reason) when no retry follows. Run by hand or by anything else, a SIGTERM ends the job: failed.
  const retriedByBatch = point === undefined && Boolean(process.env[BATCH_JOB_ID_ENV]);
  const onTerm = () =>
    stop(
      retriedByBatch
        ? { state: 'queued' }
        : { state: 'failed', error: { message: 'interrupted by SIGTERM (a retry resumes from the last checkpoint)' }, finishedAt: now() },
    );
  process.once('SIGTERM', onTerm);
  // Under the local server, stdin is a pipe from it: its end means the server is gone (even killed
  // outright). Stop, and leave the job queued so the server resumes it when it starts again.
  const onParentGone = () => stop({ state: 'queued' });
  if (o.stopWhenStdinCloses) {
    process.stdin.on('end', onParentGone).on('error', onParentGone).resume();
  }

  try {
    const base = join(work, 'base');
    await registry.downloadModel(spec.baseModel, base);
    // Datasets are read straight from their URIs (streamed, never copied to disk); a local registry's own are files.
    const data = registry.readableDatasetUri(spec.datasetUri);
    const validation = spec.validationUri === undefined ? undefined : registry.readableDatasetUri(spec.validationUri);
    const checkpointDir = join(work, CHECKPOINT);
    const resumed = await registry.downloadCheckpoint(jobId, checkpointDir, point);
    if (resumed) log({ event: 'checkpoint-restored', job: jobId });
    const out = join(work, 'adapter');
    const uploads = join(work, 'upload');

    phase = 'training';
    const { metrics, config } = await train({
      ...trainOptionsFromSpec(spec, { base, data, validation, out, checkpointDir }, hyperparameters),
      checkpointEvery: o.checkpointEvery ?? JOB_CHECKPOINT_EVERY,
      device: o.device,
      threads: o.threads,
      log: (event) => {
        log({ job: jobId, ...event });
        const patch = statusPatch(event);
        if (patch) void report(patch.status, patch.now);
      },
      onStep: () => {
        if (stopPatch) throw new StopTraining();
      },
      // Copy each checkpoint into the registry, so a retry (on another host, or the next server start)
      // continues from it. Its files are linked first: the next checkpoint deletes this one's folder.
      onCheckpoint: ({ dir, folder, step }) => {
        // The folder is named by the run's step count (every seed's), which is what the pointer records.
        const pointer: CheckpointPointer = { format: 'adapter-store.checkpoint-pointer/v1', folder, step: Number(folder) };
        const snapshot = join(uploads, folder);
        mkdirSync(snapshot, { recursive: true });
        for (const f of CHECKPOINT_FILES) linkOrCopy(join(dir, folder, f), join(snapshot, f));
        uploading = uploading
          .then(() => registry.uploadCheckpoint(jobId, uploads, pointer, point))
          .then(() => {
            if (point === undefined) events.add(mapper.checkpointSaved(step));
          })
          .catch((err) => log({ event: 'checkpoint-upload-failed', job: jobId, error: (err as Error).message }))
          .finally(() => rmSync(snapshot, { recursive: true, force: true }));
      },
    });
    if (stopPatch) throw new StopTraining();
    await uploading;
    phase = 'publishing';
    // A cancel that came in while training ended: publish nothing.
    if (await registry.getJobCancel(jobId)) {
      await report({ state: 'cancelled', finishedAt: now() }, true);
      if (point === undefined) await recordState({ state: 'cancelled' });
      return status;
    }
    if (point !== undefined) {
      // Staged, not published: only the reduce step makes the best point a version.
      await registry.uploadPointAdapter(jobId, point, out);
      const seeds = metrics.seeds.map((s) => ({ seed: s.seed, score: s.best ? metricValue(s.best, metrics.metric) : null }));
      // The selection score: the mean over seeds, none when a seed has none (as sweep/select.ts scores points).
      const score = seeds.some((s) => s.score === null) ? null : summarize(seeds.map((s) => s.score))!.mean;
      pointResult = { seeds, score, best: headlineMetrics(metrics), trainablePercent: metrics.parameters.trainablePercent };
      await report({ state: 'succeeded', finishedAt: now() }, true);
      pointFinished('succeeded', score, null);
      await events.flush();
      return status;
    }
    const manifest = await publishJobAdapter(registry, spec, out, config, metrics.best, metrics.belowMajority);
    // The guardrail: an adapter no better than always answering the majority label is published, but flagged.
    const guard = majorityGuard(metrics.belowMajority);
    if (guard) events.add(guard.event);
    await report({ state: 'succeeded', adapterVersion: manifest.version, finishedAt: now(), ...guard?.status }, true);
    events.add(
      newJobEvent('succeeded', `published ${spec.task} version ${manifest.version}`, {
        adapterVersion: manifest.version,
        metrics: manifest.metrics,
      }),
      true,
    );
    await events.flush();
    return status;
  } catch (err) {
    // Awaited here, not returned: `finally` must not remove the work folder under an upload in flight.
    if (err instanceof StopTraining && stopPatch) return await finishStop(stopPatch);
    await report({ state: 'failed', error: { message: (err as Error).message }, finishedAt: now() }, true);
    await recordState({ state: 'failed', error: { message: (err as Error).message } });
    // A failed point is a result of the sweep (the reduce reports it), not a failure of the run.
    if (point !== undefined) return status;
    throw err;
  } finally {
    process.off('SIGTERM', onTerm);
    if (o.stopWhenStdinCloses) process.stdin.off('end', onParentGone).off('error', onParentGone).pause();
    rmSync(work, { recursive: true, force: true });
  }
}

/** What a trainer event changes in status.json; `now` when it must be written at once (else throttled). */
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

/** The event of a job stopping in `patch.state` (a failure with its reason), or of going back to the queue. */
function stateEvent(patch: Partial<JobStatus>): NewJobEvent | null {
  switch (patch.state) {
    case 'failed': {
      const reason = patch.error?.message ?? 'the job failed';
      return newJobEvent('failed', `the job failed: ${reason}`, { reason });
    }
    case 'cancelled':
      return newJobEvent('cancelled', 'the job was cancelled on request', { reason: 'cancelled on request' });
    case 'queued':
      return newJobEvent('queued', 'the job stopped with its runner and is queued to resume', {});
    default:
      return null;
  }
}

/** A spec as the API would have written it for this job, or an error naming every field at fault. */
export function checkSpec(stored: unknown, jobId: string): JobSpec {
  const r = JobSpecSchema.safeParse(stored);
  if (!r.success) {
    const where = r.error.issues.map((i) => `${i.path.join('.') || '(spec)'}: ${i.message}`).join('; ');
    throw new Error(`jobs/${jobId}/spec.json is not a valid job spec (${where}); refusing to run it`);
  }
  if (r.data.jobId !== jobId) throw new Error(`jobs/${jobId}/spec.json names job "${r.data.jobId}"; refusing to run it`);
  return r.data as JobSpec;
}

/** A hard link (the trainer may delete the original; the file is never rewritten), else a copy. */
function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/** Thrown from the training loop's step hook once a stop is requested: training ends at that step. */
class StopTraining extends Error {
  override name = 'StopTraining';
}

/** The best evaluation's metrics, without its step and epoch. */
function headlineMetrics(m: TrainMetrics): JobMetrics | null {
  return m.best && { loss: m.best.loss, accuracy: m.best.accuracy, macroF1: m.best.macroF1, mcc: m.best.mcc, examples: m.best.examples };
}
