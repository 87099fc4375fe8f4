/**
 * `trainer run-job`: what a Batch container (or the local runner) executes. Reads jobs/<id>/spec.json,
 * trains, keeps jobs/<id>/status.json current, checkpoints into jobs/<id>/checkpoint/ so a retried job
 * continues where the interrupted one stopped, and publishes the adapter as a new registry version.
 *
 * A sweep (shared/sweep.ts) runs as points and a reduce step: each point trains like a job but reports to
 * jobs/<id>/points/<i>/ and stages its adapter there (on AWS one Batch array child per point, its index
 * from AWS_BATCH_JOB_ARRAY_INDEX); the reduce step (sweep-reduce.ts) publishes the best point. Locally
 * one run-job does the points one after another, then the reduce.
 *
 * Library code: the caller owns the process. It stops a run through an AbortSignal (job-outcome.ts) and
 * reads how it ended from the returned JobOutcome; trainer/cli.ts maps signals and outcomes to exit codes.
 * What a run writes is the JobReporter's (job-reporter.ts): where to, for a job or a point, is its ReportPlace.
 */
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_FILES, type CheckpointPointer } from '../../shared/checkpoint-layout.ts';
import { type Hyperparameters, type JobMetrics, type JobSpec, queuedStatus } from '../../shared/job.ts';
import { endedStatus, failedEvent, type JobEnd } from '../../shared/job-end.ts';
import { newJobEvent } from '../../shared/job-events.ts';
import { JobSpecSchema } from '../../shared/job-schema.ts';
import type { Registry } from '../../shared/registry/index.ts';
import { isSweep, pointSettings, sweepPoints, sweepSize } from '../../shared/sweep.ts';
import type { JobEvent } from '../../shared/trainer-events.ts';
import { preflight } from '../sessions/doctor.ts';
import type { Device } from '../sessions/session.ts';
import { summarize } from '../sweep/select.ts';
import { trainDefaults } from '../train/defaults.ts';
import { metricValue } from '../train/metrics.ts';
import type { TrainMetrics } from '../train/trainer.ts';
import { type TrainOptions, train } from '../train/trainer.ts';
import { type JobOutcome, stopEnd, stopReasonOf } from './job-outcome.ts';
import { JobReporter, jobPlace, type ReportPlace } from './job-reporter.ts';
import { majorityGuard } from './majority-guard.ts';
import { pointFinishedEvent, pointPlace } from './point-place.ts';
import { publishJobAdapter } from './publish.ts';
import { reduceSweep } from './sweep-reduce.ts';

export interface RunJobOptions {
  registry: Registry;
  jobId: string;
  device: Device;
  threads?: number;
  log: (event: JobEvent) => void;
  /** Minimum seconds between status.json writes while training (default 5). */
  statusInterval?: number;
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

/**
 * Runs the job (or the sweep step `o.sweepStep` names) until it ends or `signal` stops it, and reports it
 * in the registry either way. Throws only for a run that cannot start (no spec, a step the job lacks).
 */
export async function runJob(o: RunJobOptions, signal: AbortSignal): Promise<JobOutcome> {
  const { registry, jobId } = o;
  const stored = await registry.jobs.spec(jobId);
  // spec.json is re-validated with the API's own schema before anything it names is read: only s3://
  // datasets (never a local path or file:// URL), only slugs for the task and model, bounded training.
  let spec: JobSpec;
  try {
    spec = checkSpec(stored, jobId);
  } catch (err) {
    const at = new Date();
    const message = (err as Error).message;
    const status = endedStatus(
      { ...queuedStatus(jobId, at.toISOString()), startedAt: at.toISOString() },
      { state: 'failed', message },
      at.toISOString(),
    );
    await registry.jobs.putStatus(status);
    await registry.jobs.appendEvents(jobId, [failedEvent(message, at)]);
    return { kind: 'failed', status, error: err as Error };
  }
  const h = spec.hyperparameters;
  if (!isSweep(h)) {
    if (o.sweepStep !== undefined) throw new Error(`job ${jobId} is not a sweep: a point or reduce step does not apply to it`);
    return runTraining(o, spec, jobRun(o, spec), signal);
  }
  const points = sweepSize(h);
  if (o.sweepStep === 'reduce') return reduceSweep(o, spec);
  if (o.sweepStep !== undefined) {
    const { point } = o.sweepStep;
    if (!Number.isSafeInteger(point) || point < 0 || point >= points)
      throw new Error(`job ${jobId} sweeps ${points} points (0 to ${points - 1}); there is no point ${point}`);
    const outcome = await runTraining(o, spec, pointRun(o, spec, point), signal);
    // A point that failed is a result of the sweep (the reduce reports it), not a failure of this run.
    if (outcome.kind === 'stopped') return outcome;
    return { kind: 'done', status: (await registry.jobs.status(jobId)) ?? queuedStatus(jobId, spec.createdAt) };
  }
  return runLocalSweep(o, spec, signal);
}

/** Locally, one process runs a sweep's points in turn (a restarted job skips the finished ones), then the reduce. */
async function runLocalSweep(o: RunJobOptions, spec: JobSpec, signal: AbortSignal): Promise<JobOutcome> {
  const { registry, jobId } = o;
  const points = sweepSize(spec.hyperparameters);
  const startedAt = new Date().toISOString();
  const sweep = new JobReporter({ ...o, place: jobPlace, status: { ...queuedStatus(jobId, startedAt), state: 'running', startedAt } });
  await sweep.start(newJobEvent('running', `the sweep is running: ${points} points, one after another`, {}));
  await sweep.flush();
  for (let point = 0; point < points; point++) {
    const done = await registry.jobs.pointStatus(jobId, point);
    if (done?.state === 'succeeded' || done?.state === 'failed') continue;
    if (await registry.jobs.cancelRequest(jobId)) break;
    const outcome = signal.aborted
      ? { kind: 'stopped' as const, end: stopEnd(stopReasonOf(signal), false), reason: stopReasonOf(signal) }
      : await runTraining(o, spec, pointRun(o, spec, point), signal);
    if (outcome.kind !== 'stopped') continue;
    // The sweep stops with its point: the job records the point's end (the API logs a cancel itself).
    const stored = (await registry.jobs.status(jobId)) ?? queuedStatus(jobId, new Date().toISOString());
    const stopped = new JobReporter({ ...o, place: outcome.end.state === 'cancelled' ? silentJobPlace : jobPlace, status: stored });
    await stopped.end(outcome.end);
    return { kind: 'stopped', status: stopped.status, end: outcome.end, reason: outcome.reason };
  }
  return reduceSweep(o, spec);
}

/** The sweep's own status, with no event (a cancel's is the API's). */
const silentJobPlace: ReportPlace = { ...jobPlace, ended: () => null };

/** What one run trains, where it reports, and what it does with the trained adapter. */
interface Run {
  hyperparameters: Hyperparameters;
  place: ReportPlace;
  /** A SIGTERM'd Batch attempt of this run may be retried by Batch (job-outcome.ts stopEnd). */
  retriedByBatch: boolean;
  /** Publishes the trained adapter (a job) or stages it for the reduce step (a point), and reports the success. */
  deliver(trained: Trained, reporter: JobReporter): Promise<void>;
}

interface Trained {
  out: string;
  config: Awaited<ReturnType<typeof train>>['config'];
  metrics: TrainMetrics;
}

/** A plain job: published as a version of its task. */
function jobRun(o: RunJobOptions, spec: JobSpec): Run {
  return {
    hyperparameters: sweepPoints(spec.hyperparameters)[0],
    place: jobPlace,
    retriedByBatch: true,
    async deliver({ out, config, metrics }, reporter) {
      const manifest = await publishJobAdapter(o.registry, spec, out, config, metrics.best, metrics.belowMajority);
      // The guardrail: an adapter no better than always answering the majority label is published, but flagged.
      const guard = majorityGuard(metrics.belowMajority);
      await reporter.succeed({ adapterVersion: manifest.version, ...guard?.status }, [
        ...(guard ? [guard.event] : []),
        newJobEvent('succeeded', `published ${spec.task} version ${manifest.version}`, {
          adapterVersion: manifest.version,
          metrics: manifest.metrics,
        }),
      ]);
    },
  };
}

/** One point of a sweep: staged, not published (only the reduce step makes the best point a version). */
function pointRun(o: RunJobOptions, spec: JobSpec, point: number): Run {
  const settings = pointSettings(spec.hyperparameters, point);
  return {
    hyperparameters: sweepPoints(spec.hyperparameters)[point],
    place: pointPlace(point, settings),
    retriedByBatch: false,
    async deliver({ out, metrics }, reporter) {
      await o.registry.jobs.uploadPointAdapter(o.jobId, point, out);
      const seeds = metrics.seeds.map((s) => ({ seed: s.seed, score: s.best ? metricValue(s.best, metrics.metric) : null }));
      // The selection score: the mean over seeds, none when a seed has none (as sweep/select.ts scores points).
      const score = seeds.some((s) => s.score === null) ? null : summarize(seeds.map((s) => s.score))!.mean;
      await reporter.succeed({ seeds, score, best: headlineMetrics(metrics), trainablePercent: metrics.parameters.trainablePercent }, [
        pointFinishedEvent(point, settings, 'succeeded', score, null),
      ]);
    },
  };
}

/**
 * Trains a job, or one point of a sweep, keeping its status current and its checkpoint in the registry;
 * then delivers the adapter. A stop (`signal`) ends training at its next step: the run reports the cancel
 * (the API's cancel.json) or the interruption, and a retry resumes from the last checkpoint. Once
 * delivering has begun it is not interrupted: it checks cancel.json itself, and a published job reports
 * succeeded, which nothing overwrites.
 */
async function runTraining(o: RunJobOptions, spec: JobSpec, run: Run, signal: AbortSignal): Promise<JobOutcome> {
  const { registry, jobId } = o;
  const { point } = run.place;
  const work = mkdtempSync(join(tmpdir(), `job-${jobId}-`));
  const now = () => new Date().toISOString();
  const reporter = new JobReporter({
    ...o,
    place: run.place,
    status: { ...queuedStatus(jobId, now()), state: 'running', startedAt: now() },
  });
  const log = (event: JobEvent) => reporter.trainerEvent(event);
  await reporter.start();

  // Checkpoint uploads in flight: a stop lets the current one finish (tensors and state are a pair).
  let uploading: Promise<void> = Promise.resolve();
  const finishStop = async (): Promise<JobOutcome> => {
    const reason = stopReasonOf(signal);
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([uploading, new Promise((r) => (grace = setTimeout(r, STOP_UPLOAD_GRACE_MS)))]);
    clearTimeout(grace);
    const cancelled = await registry.jobs.cancelRequest(jobId).catch(() => null);
    const end: JobEnd = cancelled ? { state: 'cancelled' } : stopEnd(reason, run.retriedByBatch);
    await reporter.end(end);
    return { kind: 'stopped', status: reporter.status, end, reason };
  };

  try {
    // On CUDA, the doctor first (trainer/sessions/doctor.ts): a device that would fall back to the CPU fails the job with its reason.
    await preflight(o.device, o.threads);
    // Before training there is nothing to save: a stop ends the preparation at once.
    const { base, data, validation, checkpointDir } = await untilAborted(signal, async () => {
      const base = join(work, 'base');
      await registry.models.download(spec.baseModel, base);
      // Datasets are read straight from their URIs (streamed, never copied to disk); a local registry's own are files.
      const data = registry.datasets.readableUri(spec.datasetUri);
      const validation = spec.validationUri === undefined ? undefined : registry.datasets.readableUri(spec.validationUri);
      const checkpointDir = join(work, CHECKPOINT);
      const resumed = await registry.jobs.downloadCheckpoint(jobId, checkpointDir, point);
      if (resumed) log({ event: 'checkpoint-restored', job: jobId });
      return { base, data, validation, checkpointDir };
    });
    const out = join(work, 'adapter');
    const uploads = join(work, 'upload');

    const { metrics, config } = await train({
      ...trainOptionsFromSpec(spec, { base, data, validation, out, checkpointDir }, run.hyperparameters),
      checkpointEvery: o.checkpointEvery ?? JOB_CHECKPOINT_EVERY,
      device: o.device,
      threads: o.threads,
      log: (event) => {
        log({ job: jobId, ...event });
        reporter.progress(event);
      },
      // While training, the loop stops itself at its next step (a step blocks this thread inside onnxruntime).
      onStep: () => {
        if (signal.aborted) throw new StopTraining();
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
          .then(() => registry.jobs.uploadCheckpoint(jobId, uploads, pointer, point))
          .then(() => reporter.checkpointSaved(step))
          .catch((err) => log({ event: 'checkpoint-upload-failed', job: jobId, error: (err as Error).message }))
          .finally(() => rmSync(snapshot, { recursive: true, force: true }));
      },
    });
    if (signal.aborted) throw new StopTraining();
    await uploading;
    // A cancel that came in while training ended: deliver nothing.
    if (await registry.jobs.cancelRequest(jobId)) {
      await reporter.end({ state: 'cancelled' });
      return { kind: 'done', status: reporter.status };
    }
    await run.deliver({ out, config, metrics }, reporter);
    return { kind: 'done', status: reporter.status };
  } catch (err) {
    // Awaited here, not returned: `finally` must not remove the work folder under an upload in flight.
    if (err instanceof StopTraining) return await finishStop();
    await reporter.end({ state: 'failed', message: (err as Error).message });
    return { kind: 'failed', status: reporter.status, error: err as Error };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `work()`, unless `signal` aborts first: then StopTraining (the work is left to end on its own, unobserved). */
async function untilAborted<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  if (signal.aborted) throw new StopTraining();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new StopTraining());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work(), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
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
