/**
 * The AWS Batch launcher: one Batch job per fine-tune job, running the trainer image's
 * `run-job --registry <uri> --job <id>`. The client comes from the standard AWS environment
 * (region, credentials, and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_BATCH, which the SDK honours).
 *
 * A sweep of N points is two Batch jobs: an array job of N children (each trains the point of its
 * AWS_BATCH_JOB_ARRAY_INDEX) and a reduce job (`run-job ... --reduce`) that depends on the array and
 * publishes the best point. The reduce trains nothing, so it goes to its own queue and job definition
 * when given (cdk/training.ts: a Fargate CPU queue), not to a GPU instance. A point that fails to train still exits 0 (its failure is a result the reduce
 * reports), so a failed array means a child's container itself failed; Batch then fails the reduce too.
 *
 * Batch has no idempotency token on SubmitJob: the API must not submit one job twice. Terminated jobs
 * end FAILED on Batch; the reason this launcher gives TerminateJob lets `describe` tell them apart as
 * 'cancelled'. A job Batch itself cancelled because it waited in RUNNABLE past the queue's
 * jobStateTimeLimitActions bound is 'failed', with why in words; a job still waiting carries Batch's
 * reason for the wait (no capacity, a misconfiguration) as its `reason`.
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
  /** Where a sweep's reduce step goes (a CPU queue and its job definition); default: jobQueue / jobDefinition. */
  reduceJobQueue?: string;
  reduceJobDefinition?: string;
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

/**
 * Why Batch holds a RUNNABLE job at the head of its queue (the prefix of its statusReason, the same
 * codes jobStateTimeLimitActions name), in words a job's owner can act on. SERVICE_ROLE_PERMISSIONS
 * and ACTION_REQUIRED are not codes Batch's time limit acts on: only an operator can clear them.
 */
export const BLOCKED_REASONS: Readonly<Record<string, string>> = {
  'CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY': "EC2 has no capacity for the queue's GPU instance types in its Availability Zones",
  'MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE': "the job needs more vCPUs than the compute environments' maxvCpus",
  'MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT': 'no instance type of the compute environments has the vCPUs, memory or GPU the job asks for',
  'MISCONFIGURATION:SERVICE_ROLE_PERMISSIONS': "AWS Batch's service role lacks a permission (an operator must fix it)",
  'MISCONFIGURATION:EC2_INSTANCE_CONFIGURATION_UNSUPPORTED':
    "the compute environment's instance types or launch template are not supported where it runs",
  ACTION_REQUIRED: "the queue's compute environments are INVALID (an operator must fix them)",
};

/** Batch's statusReason for a job its queue's jobStateTimeLimitActions cancelled. */
const TIME_LIMIT_CANCELLED = /^Canceled by JobStateTimeLimit action due to reason: (\S+)/;

/** Batch's reason, prefixed with what it means when its code is one Batch documents. */
function explained(statusReason: string): string {
  const code = /^([A-Z_]+(?::[A-Z0-9_]+)?)/.exec(statusReason)?.[1];
  const meaning = code ? BLOCKED_REASONS[code] : undefined;
  return meaning ? `${meaning} (Batch: ${statusReason})` : statusReason;
}

/** What the state mapping reads of a job: DescribeJobs' JobDetail, or ListJobs' JobSummary (an array child). */
export interface BatchJobFacts {
  status?: BatchStatus;
  statusReason?: string;
  attempts?: JobDetail['attempts'];
  container?: { exitCode?: number; reason?: string };
}

/** statusReason plus what the container said (exit code, reason), from the job or its last attempt. */
function failureReason(job: BatchJobFacts): string {
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

export function launcherView(job: BatchJobFacts): LauncherView {
  const state = job.status ? STATE[job.status] : undefined;
  if (!state) return { state: 'unknown', reason: `unexpected Batch status ${String(job.status)}` };
  if (state === 'failed') {
    if (job.statusReason === CANCEL_REASON) return { state: 'cancelled', reason: CANCEL_REASON };
    const limited = TIME_LIMIT_CANCELLED.exec(job.statusReason ?? '');
    if (limited) {
      const meaning = BLOCKED_REASONS[limited[1]];
      return {
        state: 'failed',
        reason: `Batch cancelled the job after it waited to start longer than the queue allows${meaning ? `: ${meaning}` : ''} (${job.statusReason})`,
      };
    }
    return { state, reason: failureReason(job) };
  }
  // A job waiting at the head of the queue carries why Batch cannot place it.
  if (state === 'queued' && job.status === 'RUNNABLE' && job.statusReason) return { state, reason: explained(job.statusReason) };
  return { state };
}

export class BatchLauncher implements JobLauncher {
  readonly jobQueue: string;
  readonly jobDefinition: string;
  readonly reduceJobQueue: string;
  readonly reduceJobDefinition: string;
  readonly registryUri: string;
  readonly client: BatchClient;

  constructor(o: BatchLauncherOptions) {
    this.jobQueue = o.jobQueue;
    this.jobDefinition = o.jobDefinition;
    this.reduceJobQueue = o.reduceJobQueue ?? o.jobQueue;
    this.reduceJobDefinition = o.reduceJobDefinition ?? o.jobDefinition;
    this.registryUri = o.registryUri;
    this.client = o.client ?? batchClientFromEnv();
  }

  async submit(job: { jobId: string; task: string; points?: number }): Promise<LaunchedJob> {
    const points = job.points ?? 1;
    if (points === 1) return { jobId: job.jobId, externalId: await this.submitOne(job) };
    const arrayJobId = await this.submitOne(job, { arrayProperties: { size: points } });
    try {
      const externalId = await this.submitOne(job, {
        dependsOn: [{ jobId: arrayJobId }],
        extraArgs: ['--reduce'],
        jobQueue: this.reduceJobQueue,
        jobDefinition: this.reduceJobDefinition,
      });
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
    o: {
      arrayProperties?: { size: number };
      dependsOn?: { jobId: string }[];
      extraArgs?: string[];
      jobQueue?: string;
      jobDefinition?: string;
    } = {},
  ): Promise<string> {
    const out = await this.client.send(
      new SubmitJobCommand({
        jobName: batchJobName(job.task, job.jobId),
        jobQueue: o.jobQueue ?? this.jobQueue,
        jobDefinition: o.jobDefinition ?? this.jobDefinition,
        // The training queue names every job this API submits, the reduce's too: the API may terminate
        // only jobs tagged with it (cdk/api.ts).
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
    const queues = [...new Set([this.jobQueue, this.reduceJobQueue])];
    for (const [jobQueue, jobStatus] of queues.flatMap((q) => ACTIVE_STATUSES.map((s) => [q, s] as const))) {
      let nextToken: string | undefined;
      do {
        const page = await this.client.send(new ListJobsCommand({ jobQueue, jobStatus, nextToken }));
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
    // A failed array (a point's container failed, or Batch cancelled a point that could not start)
    // means the reduce cannot run: Batch fails it too. The parent's reason is only "Array Child Job
    // failed": the first failed point's says why.
    if (points.state === 'failed') {
      const child = await this.firstChild(job.arrayJobId, 'FAILED');
      const why = child ? launcherView(child).reason : points.reason;
      return {
        state: 'failed',
        reason: `${s.FAILED ?? '?'} of ${array.arrayProperties?.size ?? '?'} sweep points failed (${why}); the reduce step cannot run`,
      };
    }
    // The reduce waits while the points train: the job is running once any point has started.
    if (view.state === 'queued' && (s.RUNNING ?? 0) + (s.SUCCEEDED ?? 0) + (s.FAILED ?? 0) > 0) return { state: 'running' };
    if (view.state === 'queued' && !view.reason && (s.RUNNABLE ?? 0) > 0) {
      // No point has started: the one at the head of the queue says why, if Batch said.
      const waiting = await this.firstChild(job.arrayJobId, 'RUNNABLE', true);
      if (waiting) return launcherView(waiting);
    }
    return view;
  }

  /** The first child of an array job in a status (with a statusReason, if asked), from ListJobs. */
  private async firstChild(arrayJobId: string, jobStatus: BatchStatus, withReason = false) {
    const page = await this.client.send(new ListJobsCommand({ arrayJobId, jobStatus, maxResults: 100 }));
    return page.jobSummaryList?.find((j) => !withReason || j.statusReason);
  }
}
