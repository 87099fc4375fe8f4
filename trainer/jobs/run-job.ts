/**
 * `trainer run-job`: what a Batch container (or the local runner) executes. Reads jobs/<id>/spec.json,
 * trains, keeps jobs/<id>/status.json current, checkpoints into jobs/<id>/checkpoint/ so a retried job
 * continues where the interrupted one stopped, and publishes the adapter as a new registry version.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobSpec, JobStatus } from '../../shared/job.ts';
import { type NewJobEvent, newJobEvent } from '../../shared/job-events.ts';
import { JobSpecSchema } from '../../shared/job-schema.ts';
import type { Registry } from '../../shared/registry.ts';
import type { JobEvent, TrainerEvent } from '../../shared/trainer-events.ts';
import type { Device } from '../runtime/session.ts';
import { trainDefaults } from '../train/defaults.ts';
import { CHECKPOINT_STATE, CHECKPOINT_TENSORS } from '../train/resume-state.ts';
import type { TrainMetrics } from '../train/trainer.ts';
import { type TrainOptions, train } from '../train/trainer.ts';
import { JobEventLog } from './event-log.ts';
import { TrainerEventMapper } from './job-events.ts';

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
}

const CHECKPOINT = 'checkpoint';
/** How long a stopping job waits for a checkpoint upload in flight (Batch allows 30 s after SIGTERM). */
const STOP_UPLOAD_GRACE_MS = 20_000;

/** The trainer options a job spec asks for, on top of the defaults. */
export function trainOptionsFromSpec(
  spec: JobSpec,
  paths: { base: string; data: string; validation?: string; out: string; checkpointDir: string },
): Omit<TrainOptions, 'log' | 'device' | 'threads' | 'onCheckpoint' | 'onStep'> {
  const h = spec.hyperparameters;
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
    checkpointEvery: 100, // jobs always checkpoint: Spot hosts get reclaimed
    resume: true,
  };
}

export async function runJob(o: RunJobOptions): Promise<JobStatus> {
  const { registry, jobId } = o;
  const stored = await registry.getJobSpec(jobId);
  const work = mkdtempSync(join(tmpdir(), `job-${jobId}-`));
  const now = () => new Date().toISOString();
  let status: JobStatus = {
    format: 'adapter-store.job-status/v1',
    jobId,
    state: 'running',
    step: 0,
    totalSteps: 0,
    epoch: 0,
    loss: null,
    validation: null,
    startedAt: now(),
    updatedAt: now(),
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
      .then(() => registry.putJobStatus(snapshot))
      .catch((err) => o.log({ event: 'status-write-failed', job: jobId, error: (err as Error).message }));
    return writing;
  };
  await report({}, true);
  // The job's event log: batched into immutable pages (bounded writes); state changes are written at once.
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
    for (const e of mapper.map(event)) events.add(e);
  };
  /** The event a final (or re-queued) status means, written before the process may exit. */
  const recordState = async (patch: Partial<JobStatus>) => {
    const e = stateEvent(patch);
    if (e) events.add(e, true);
    await events.flush();
  };
  events.add(newJobEvent('running', 'the job is running', {}), true);

  // spec.json is re-validated with the API's own schema before anything it names is read: only s3://
  // datasets (never a local path or file:// URL), only slugs for the task and model, bounded training.
  let spec: JobSpec;
  try {
    spec = checkSpec(stored, jobId);
  } catch (err) {
    await report({ state: 'failed', error: { message: (err as Error).message }, finishedAt: now() }, true);
    await recordState({ state: 'failed', error: { message: (err as Error).message } });
    rmSync(work, { recursive: true, force: true });
    throw err;
  }

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
    await report(cancelled ? { state: 'cancelled', finishedAt: now() } : patch, true);
    await recordState(cancelled ? { state: 'cancelled' } : patch);
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
  const onTerm = () =>
    stop({ state: 'failed', error: { message: 'interrupted by SIGTERM (a retry resumes from the last checkpoint)' }, finishedAt: now() });
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
    const resumed = await registry.downloadCheckpoint(jobId, checkpointDir);
    if (resumed > 0) log({ event: 'checkpoint-restored', job: jobId });
    const out = join(work, 'adapter');

    phase = 'training';
    const { metrics, config } = await train({
      ...trainOptionsFromSpec(spec, { base, data, validation, out, checkpointDir }),
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
      // Copy each local checkpoint into the registry, so a retry on another host continues from it.
      // Snapshot first (training goes on and rewrites the files); tensors before state, as locally.
      onCheckpoint: ({ dir, step }) => {
        const snapshot = join(work, `upload-${step}`);
        mkdirSync(snapshot);
        for (const f of [CHECKPOINT_TENSORS, CHECKPOINT_STATE]) copyFileSync(join(dir, f), join(snapshot, f));
        uploading = uploading
          .then(() => registry.uploadCheckpoint(jobId, snapshot, [CHECKPOINT_TENSORS, CHECKPOINT_STATE]))
          .then(() => events.add(mapper.checkpointSaved(step)))
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
      await recordState({ state: 'cancelled' });
      return status;
    }
    const manifest = await registry.publishAdapter(out, {
      task: spec.task,
      jobId,
      baseModel: { name: spec.baseModel, weightsSha256: config.base.weightsSha256 },
      mode: config.mode,
      labels: config.labels,
      parameters: config.parameters,
      metrics: headline(metrics),
    });
    await report({ state: 'succeeded', adapterVersion: manifest.version, finishedAt: now() }, true);
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
    if (err instanceof StopTraining && stopPatch) return finishStop(stopPatch);
    await report({ state: 'failed', error: { message: (err as Error).message }, finishedAt: now() }, true);
    await recordState({ state: 'failed', error: { message: (err as Error).message } });
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

/** Thrown from the training loop's step hook once a stop is requested: training ends at that step. */
class StopTraining extends Error {
  override name = 'StopTraining';
}

function headline(m: TrainMetrics): { loss: number; accuracy: number; macroF1: number; mcc: number } | null {
  return m.best ? { loss: m.best.loss, accuracy: m.best.accuracy, macroF1: m.best.macroF1, mcc: m.best.mcc } : null;
}
