/**
 * The AWS Batch launcher: one Batch job per fine-tune job, running the trainer image's
 * `run-job --registry <uri> --job <id>`. The client comes from the standard AWS environment
 * (region, credentials, and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_BATCH, which the SDK honours).
 *
 * A sweep of N points is two Batch jobs: an array job of N children (each trains the point of its
 * AWS_BATCH_JOB_ARRAY_INDEX) and a reduce job (`run-job ... --reduce`) that depends on the array and
 * publishes the best point. A point that fails to train still exits 0 (its failure is a result the reduce
 * reports), so a failed array means a child's container itself failed; Batch then fails the reduce too.
 *
 * Batch has no idempotency token on SubmitJob: the API must not submit one job twice. Terminated jobs
 * end FAILED on Batch; the reason this launcher gives TerminateJob lets `describe` tell them apart as
 * 'cancelled'.
 */
import {
  BatchClient,
  type JobStatus as BatchStatus,
  DescribeJobsCommand,
  type JobDetail,
  ListJobsCommand,
  SubmitJobCommand,
  TerminateJobCommand,
} from '@aws-sdk/client-batch';
import type { JobState } from '../../shared/job.ts';
import type { JobLauncher, LaunchedJob, LauncherView } from './launcher.ts';

export interface BatchLauncherOptions {
  jobQueue: string;
  jobDefinition: string;
  registryUri: string;
  client?: BatchClient;
}

/** The reason given to TerminateJob; Batch reports it back as the FAILED job's statusReason. */
export const CANCEL_REASON = 'Cancelled by the adapter store API';

/**
 * Every job this launcher submits is tagged <JOB_QUEUE_TAG>=<its queue>: the API's role may terminate
 * only jobs with that tag (cdk/api.ts), so not every job in the account.
 */
export const JOB_QUEUE_TAG = 'adapter-store-queue';

/** A Batch client from the standard AWS environment (region defaults to us-east-1). */
export function batchClientFromEnv(): BatchClient {
  return new BatchClient({ region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1' });
}

/** Batch job names: up to 128 letters, digits, hyphens and underscores, starting with a letter or digit. */
export function batchJobName(task: string, jobId: string): string {
  return `ft-${task}-${jobId}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 128);
}

const STATE: Record<string, JobState> = {
  SUBMITTED: 'queued',
  PENDING: 'queued',
  RUNNABLE: 'queued',
  STARTING: 'queued',
  RUNNING: 'running',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
};

/** statusReason plus what the container said (exit code, reason), from the job or its last attempt. */
function failureReason(job: JobDetail): string {
  const attempt = job.attempts?.at(-1)?.container;
  const exitCode = job.container?.exitCode ?? attempt?.exitCode;
  const containerReason = job.container?.reason ?? attempt?.reason;
  const parts: string[] = [];
  if (exitCode !== undefined) parts.push(`exit code ${exitCode}`);
  if (containerReason) parts.push(containerReason);
  const status = job.statusReason ?? 'failed';
  return parts.length ? `${status} (${parts.join(': ')})` : status;
}

const ACTIVE_STATUSES: BatchStatus[] = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING'];

export function launcherView(job: JobDetail): LauncherView {
  const state = job.status ? STATE[job.status] : undefined;
  if (!state) return { state: 'unknown', reason: `unexpected Batch status ${String(job.status)}` };
  if (state === 'failed') {
    if (job.statusReason === CANCEL_REASON) return { state: 'cancelled', reason: CANCEL_REASON };
    return { state, reason: failureReason(job) };
  }
  return { state };
}

export class BatchLauncher implements JobLauncher {
  readonly jobQueue: string;
  readonly jobDefinition: string;
  readonly registryUri: string;
  readonly client: BatchClient;

  constructor(o: BatchLauncherOptions) {
    this.jobQueue = o.jobQueue;
    this.jobDefinition = o.jobDefinition;
    this.registryUri = o.registryUri;
    this.client = o.client ?? batchClientFromEnv();
  }

  async submit(job: { jobId: string; task: string; points?: number }): Promise<LaunchedJob> {
    const points = job.points ?? 1;
    if (points === 1) return { jobId: job.jobId, externalId: await this.submitOne(job) };
    const arrayJobId = await this.submitOne(job, { arrayProperties: { size: points } });
    try {
      const externalId = await this.submitOne(job, { dependsOn: [{ jobId: arrayJobId }], extraArgs: ['--reduce'] });
      return { jobId: job.jobId, externalId, arrayJobId };
    } catch (err) {
      // Without its reduce step the array's work could never be published: stop it.
      await this.client
        .send(new TerminateJobCommand({ jobId: arrayJobId, reason: 'the sweep could not be submitted whole' }))
        .catch(() => {});
      throw err;
    }
  }

  private async submitOne(
    job: { jobId: string; task: string },
    o: { arrayProperties?: { size: number }; dependsOn?: { jobId: string }[]; extraArgs?: string[] } = {},
  ): Promise<string> {
    const out = await this.client.send(
      new SubmitJobCommand({
        jobName: batchJobName(job.task, job.jobId),
        jobQueue: this.jobQueue,
        jobDefinition: this.jobDefinition,
        tags: { [JOB_QUEUE_TAG]: this.jobQueue },
        arrayProperties: o.arrayProperties,
        dependsOn: o.dependsOn,
        containerOverrides: {
          environment: [
            { name: 'ADAPTER_STORE_REGISTRY', value: this.registryUri },
            { name: 'ADAPTER_STORE_JOB_ID', value: job.jobId },
          ],
          command: ['run-job', '--registry', this.registryUri, '--job', job.jobId, ...(o.extraArgs ?? [])],
        },
      }),
    );
    if (!out.jobId) throw new Error(`Batch SubmitJob for job ${job.jobId} returned no jobId`);
    return out.jobId;
  }

  async cancel(job: LaunchedJob): Promise<void> {
    // TerminateJob stops RUNNING/STARTING jobs and cancels those not yet started; on an array job's
    // parent, all of its children. A sweep's reduce is stopped first, so nothing is published after.
    await this.client.send(new TerminateJobCommand({ jobId: job.externalId, reason: CANCEL_REASON }));
    if (job.arrayJobId) await this.client.send(new TerminateJobCommand({ jobId: job.arrayJobId, reason: CANCEL_REASON }));
  }

  /** Jobs of this queue not yet finished, by their fine-tune job id (from the job name, batchJobName). */
  async activeJobIds(): Promise<string[]> {
    // A sweep is two Batch jobs of the same name (array + reduce): each fine-tune job counts once.
    const ids = new Set<string>();
    for (const jobStatus of ACTIVE_STATUSES) {
      let nextToken: string | undefined;
      do {
        const page = await this.client.send(new ListJobsCommand({ jobQueue: this.jobQueue, jobStatus, nextToken }));
        for (const j of page.jobSummaryList ?? []) {
          const id = /(ft-[0-9a-z]{9}[0-9a-f]{12})$/.exec(j.jobName ?? '')?.[1];
          if (id) ids.add(id);
        }
        nextToken = page.nextToken;
      } while (nextToken);
    }
    return [...ids];
  }

  async describe(job: LaunchedJob): Promise<LauncherView> {
    const ids = job.arrayJobId ? [job.externalId, job.arrayJobId] : [job.externalId];
    const out = await this.client.send(new DescribeJobsCommand({ jobs: ids }));
    const detail = out.jobs?.find((j) => j.jobId === job.externalId) ?? (job.arrayJobId ? undefined : out.jobs?.[0]);
    if (!detail) return { state: 'unknown' };
    const view = launcherView(detail);
    if (!job.arrayJobId) return view;
    // A sweep: the reduce waits (PENDING) while the points run; its failure may be the array's.
    const array = out.jobs?.find((j) => j.jobId === job.arrayJobId);
    if (!array) return view;
    const points = launcherView(array);
    if (points.state === 'cancelled') return points;
    const s = array.arrayProperties?.statusSummary ?? {};
    // A failed array (a point's container failed) means the reduce cannot run: Batch fails it too.
    if (points.state === 'failed') {
      return {
        state: 'failed',
        reason: `${s.FAILED ?? '?'} of ${array.arrayProperties?.size ?? '?'} sweep points' containers failed (${points.reason}); the reduce step cannot run`,
      };
    }
    // The reduce waits while the points train: the job is running once any point has started.
    if (view.state === 'queued' && (s.RUNNING ?? 0) + (s.SUCCEEDED ?? 0) + (s.FAILED ?? 0) > 0) return { state: 'running' };
    return view;
  }
}
