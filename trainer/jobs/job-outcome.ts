/**
 * How `runJob` ends, and why a caller may stop it. The caller (trainer/cli.ts) owns the process: it turns
 * signals and a closed stdin into an AbortSignal whose reason is a StopReason, and the outcome into an exit
 * code. Every outcome has been reported (status.json and events) before runJob resolves.
 */
import type { JobStatus } from '../../shared/job.ts';
import type { JobEnd } from '../../shared/job-end.ts';

export type JobOutcome =
  /** The run did its part and reported it: a job published (or found cancelled), a sweep point trained or failed (a result of the sweep). */
  | { kind: 'done'; status: JobStatus }
  /** The job failed; its status and events say why. */
  | { kind: 'failed'; status: JobStatus; error: Error }
  /** Stopped on request before it could finish; `end` is what it recorded (queued to resume, failed, or cancelled). */
  | { kind: 'stopped'; status: JobStatus; end: JobEnd; reason: StopReason };

export type StopReason =
  /** The local server that started the run is gone (its stdin pipe closed): the job waits for it, queued. */
  | { kind: 'runner-gone' }
  /** A signal; `batchAttempt`: the process is an AWS Batch attempt, which Batch may retry (a reclaimed Spot host). */
  | { kind: 'signal'; signal: 'SIGTERM' | 'SIGINT'; batchAttempt: boolean };

/** The StopReason an aborted signal carries (an abort without one reads as an interruption). */
export function stopReasonOf(signal: AbortSignal): StopReason {
  const r = signal.reason as Partial<StopReason> | undefined;
  if (r?.kind === 'runner-gone') return { kind: 'runner-gone' };
  if (r?.kind === 'signal' && (r.signal === 'SIGTERM' || r.signal === 'SIGINT'))
    return { kind: 'signal', signal: r.signal, batchAttempt: r.batchAttempt === true };
  return { kind: 'signal', signal: 'SIGTERM', batchAttempt: false };
}

/**
 * What a stopped run records. A plain job's Batch attempt may be retried: it leaves the job queued, and the
 * API reads Batch's own end (failed, with its reason) when no retry follows. A run whose server went away is
 * queued to resume when it starts again. Otherwise (run by hand or by anything else) a stop ends the job.
 */
export function stopEnd(reason: StopReason, retriedByBatch: boolean): JobEnd {
  if (reason.kind === 'runner-gone' || (reason.batchAttempt && retriedByBatch)) return { state: 'queued' };
  return { state: 'failed', message: `interrupted by ${reason.signal} (a retry resumes from the last checkpoint)` };
}
