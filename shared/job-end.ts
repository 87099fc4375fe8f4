/**
 * How a job's run ends without a published adapter, or goes back to the queue: the one description from
 * which both its status.json and its event log are written, by the trainer and (a launch that failed) the
 * API. Kept apart from job-lifecycle.ts, which the console bundles, because events carry their schemas.
 */
import type { JobStatus } from './job.ts';
import { type NewJobEvent, newJobEvent } from './job-events.ts';

export type JobEnd =
  | { state: 'failed'; message: string }
  /** On request (the API's cancel.json). */
  | { state: 'cancelled' }
  /** Stopped with its runner (a local server going away, a Batch attempt that may be retried): it resumes. */
  | { state: 'queued' };

/** What `end` changes in a status: a failure's reason, the finish time of a final state. */
export function endPatch(end: JobEnd, at: string): Partial<JobStatus> {
  switch (end.state) {
    case 'failed':
      return { state: 'failed', error: { message: end.message }, finishedAt: at };
    case 'cancelled':
      return { state: 'cancelled', finishedAt: at };
    case 'queued':
      return { state: 'queued' };
  }
}

/** `status` ended by `end` at `at`. */
export function endedStatus(status: JobStatus, end: JobEnd, at: string): JobStatus {
  return { ...status, ...endPatch(end, at), updatedAt: at };
}

/** The event of a job failing, with its reason. */
export function failedEvent(message: string, at?: Date): NewJobEvent {
  return newJobEvent('failed', `the job failed: ${message}`, { reason: message }, at);
}

/** The event a job's log records for `end`. */
export function endEvent(end: JobEnd, at?: Date): NewJobEvent {
  switch (end.state) {
    case 'failed':
      return failedEvent(end.message, at);
    case 'cancelled':
      return newJobEvent('cancelled', 'the job was cancelled on request', { reason: 'cancelled on request' }, at);
    case 'queued':
      return newJobEvent('queued', 'the job stopped with its runner and is queued to resume', {}, at);
  }
}
