/**
 * How the API starts and stops fine-tune jobs. Two real implementations: AWS Batch (SubmitJob /
 * TerminateJob / DescribeJobs) and a local runner that spawns `trainer run-job` as child processes.
 * The job's spec is already in the registry (jobs/<id>/spec.json) when `submit` is called.
 */
import type { JobState } from '../../shared/job.ts';

export interface LaunchedJob {
  jobId: string;
  /** The launcher's own handle (Batch job id, local pid), for logs and cancel. For a Batch sweep: its reduce job. */
  externalId: string;
  /** A Batch sweep's array job (one child per point); the reduce job `externalId` depends on it. */
  arrayJobId?: string;
}

/** What the launcher knows of a job, merged into status.json by the API (a container that died before reporting still shows failed). */
export interface LauncherView {
  state: JobState | 'unknown';
  /**
   * Why it failed or stopped, in the launcher's words (e.g. Batch's statusReason, an exit code); for a job
   * still queued, why it is not starting when the launcher knows (Batch: no GPU capacity, a misconfiguration).
   */
  reason?: string;
}

export interface JobLauncher {
  /** `points` > 1: a sweep of that many points (shared/sweep.ts). */
  submit(job: { jobId: string; task: string; points?: number }): Promise<LaunchedJob>;
  cancel(job: LaunchedJob): Promise<void>;
  describe(job: LaunchedJob): Promise<LauncherView>;
  /** Ids of the jobs queued or running right now (the API's spend limits count them); absent: no limits. */
  activeJobIds?(): Promise<string[]>;
}
