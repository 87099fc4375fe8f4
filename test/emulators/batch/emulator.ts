/**
 * An AWS Batch emulator: job queues, job definitions and jobs kept in memory, with Batch's state
 * machine (SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED | FAILED), and each
 * job's container run as a local process, the way LocalStack runs Batch jobs in Docker containers.
 *
 * "Running an image" here means: look the image up in `images` (or take `defaultEntrypoint`), spawn
 * that argv + the job's command (definition's, or the override's; `Ref::name` parameters substituted)
 * with the environment `baseEnv` + `containerEnv` + Batch's AWS_BATCH_* variables + the definition's
 * environment + the override's (overrides win). Exit 0 -> SUCCEEDED; anything else -> FAILED with
 * "Essential container in task exited", or a retry when the retry strategy says so. `emulatorhostfailure`
 * (not a Batch operation) kills a running container outright, as a Spot reclaim does, with Batch's
 * "Host EC2 ... terminated." reason: how tests order a retried attempt.
 *
 * Array jobs (`arrayProperties.size`): the parent runs nothing; its children `<parentId>:<index>` run
 * like any job (with AWS_BATCH_JOB_ARRAY_INDEX) and the parent's status rolls up from theirs. Jobs with
 * `dependsOn` stay PENDING until every dependency SUCCEEDED, and go FAILED without running when one FAILED.
 *
 * The HTTP wire layer is server.ts; this class is the operations, callable in-process too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import type {
  EvaluateOnExit,
  JobDefinition,
  JobDependency,
  JobDetail,
  JobQueueDetail,
  JobStatus,
  JobSummary,
  KeyValuePair,
  ResourceRequirement,
  RetryStrategy,
} from '@aws-sdk/client-batch';

export interface BatchEmulatorOptions {
  region?: string;
  accountId?: string;
  /** image -> local entrypoint argv; the job's command is appended. */
  images?: Record<string, readonly string[]>;
  /** Entrypoint for images not in `images`; without it such jobs fail with CannotPullContainerError. */
  defaultEntrypoint?: readonly string[];
  /** Added to every container's environment (the AWS endpoint and credentials a task role would give). */
  containerEnv?: Record<string, string>;
  /** The environment containers start from (default: this process's). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Working directory of the containers (default: this process's). */
  cwd?: string;
  /** Containers running at once, like a compute environment's capacity (default 1). */
  concurrency?: number;
  /** false: jobs are accepted and stay SUBMITTED; tests move them with `update` (default true). */
  dispatch?: boolean;
  /** Milliseconds between the scheduler's state transitions (default 20). */
  transitionMs?: number;
  /** Milliseconds between SIGTERM and SIGKILL when a job is terminated (ECS's stopTimeout; default 30000). */
  stopTimeoutMs?: number;
  /** Lines of container output kept per job (default 200). */
  logTailLines?: number;
  /** Queues that exist from the start (names); more through CreateJobQueue. */
  jobQueues?: readonly string[];
  /** Every line a container writes (stdout and stderr), as it comes. */
  onLog?: (jobId: string, line: string) => void;
}

/** An error Batch answers on the wire: `x-amzn-errortype` + `{message}`. */
export class BatchError extends Error {
  constructor(
    readonly status: number,
    readonly type: 'ClientException' | 'ServerException' | 'UnknownOperationException',
    message: string,
  ) {
    super(message);
  }
}

const clientError = (message: string) => new BatchError(400, 'ClientException', message);

type Body = Record<string, unknown>;

// --- request parsing: bodies are untrusted JSON ------------------------------------------------------

function isObject(v: unknown): v is Body {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function reqString(body: Body, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') throw clientError(`${field} is required`);
  return v;
}

function optString(body: Body, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw clientError(`${field} must be a string`);
  return v;
}

function optInt(body: Body, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw clientError(`${field} must be an integer from ${min} to ${max}`);
  return v;
}

function optObject(body: Body, field: string): Body | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw clientError(`${field} must be an object`);
  return v;
}

function optStrings(body: Body, field: string): string[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string')) throw clientError(`${field} must be a list of strings`);
  return v;
}

function optStringMap(body: Body, field: string): Record<string, string> | undefined {
  const v = optObject(body, field);
  if (!v) return undefined;
  for (const [k, s] of Object.entries(v)) if (typeof s !== 'string') throw clientError(`${field}.${k} must be a string`);
  return v as Record<string, string>;
}

function optEnvironment(body: Body, field: string): KeyValuePair[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw clientError(`${field} must be a list of {name, value}`);
  return v.map((e, i) => {
    if (!isObject(e) || typeof e.name !== 'string' || e.name === '' || (e.value !== undefined && typeof e.value !== 'string'))
      throw clientError(`${field}[${i}] must be {name, value}`);
    // Batch reserves these for the variables it sets itself.
    if (e.name.startsWith('AWS_BATCH')) throw clientError(`${field}[${i}]: environment variables starting with AWS_BATCH are reserved`);
    return { name: e.name, value: typeof e.value === 'string' ? e.value : '' };
  });
}

function optResources(body: Body, field: string): ResourceRequirement[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw clientError(`${field} must be a list of {type, value}`);
  return v.map((r, i) => {
    if (!isObject(r) || !['GPU', 'VCPU', 'MEMORY'].includes(String(r.type)) || typeof r.value !== 'string')
      throw clientError(`${field}[${i}] must be {type: GPU | VCPU | MEMORY, value}`);
    return { type: r.type as ResourceRequirement['type'], value: r.value };
  });
}

function optRetryStrategy(body: Body, field: string): RetryStrategy | undefined {
  const v = optObject(body, field);
  if (!v) return undefined;
  const attempts = optInt(v, 'attempts', 1, 10);
  const rules = v.evaluateOnExit;
  let evaluateOnExit: EvaluateOnExit[] | undefined;
  if (rules !== undefined && rules !== null) {
    if (!Array.isArray(rules) || rules.length > 5) throw clientError(`${field}.evaluateOnExit must be a list of at most 5 rules`);
    evaluateOnExit = rules.map((r, i) => {
      if (!isObject(r)) throw clientError(`${field}.evaluateOnExit[${i}] must be an object`);
      const action = String(r.action ?? '').toUpperCase();
      if (action !== 'RETRY' && action !== 'EXIT') throw clientError(`${field}.evaluateOnExit[${i}].action must be RETRY or EXIT`);
      return {
        action,
        onExitCode: optString(r, 'onExitCode'),
        onReason: optString(r, 'onReason'),
        onStatusReason: optString(r, 'onStatusReason'),
      };
    });
  }
  return { attempts, evaluateOnExit };
}

function optTimeout(body: Body, field: string): { attemptDurationSeconds?: number } | undefined {
  const v = optObject(body, field);
  if (!v) return undefined;
  // Batch's minimum attempt duration is 60 seconds.
  return { attemptDurationSeconds: optInt(v, 'attemptDurationSeconds', 60, 2 ** 31 - 1) };
}

/** `dependsOn`: whole-job dependencies only (Batch allows 20). */
function optDependsOn(body: Body, field: string): JobDependency[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > 20) throw clientError(`${field} must be a list of at most 20 {jobId}`);
  return v.map((d, i) => {
    if (!isObject(d)) throw clientError(`${field}[${i}] must be {jobId}`);
    const type = optString(d, 'type');
    if (type === 'N_TO_N' || type === 'SEQUENTIAL')
      throw clientError(`${field}[${i}].type ${type} is not emulated: depend on a whole job (jobId, no type)`);
    if (type !== undefined) throw clientError(`${field}[${i}].type must be N_TO_N or SEQUENTIAL`);
    const jobId = d.jobId;
    if (typeof jobId !== 'string' || jobId === '') throw clientError(`${field}[${i}].jobId is required`);
    return { jobId };
  });
}

/** `arrayProperties.size`: Batch's arrays have 2 to 10,000 children. */
function optArraySize(body: Body, field: string): number | undefined {
  const v = optObject(body, field);
  if (!v) return undefined;
  if (typeof v.size !== 'number' || !Number.isInteger(v.size) || v.size < 2 || v.size > 10_000)
    throw clientError(`${field}.size must be an integer from 2 to 10000, got ${JSON.stringify(v.size ?? null)}`);
  return v.size;
}

/** Batch's evaluateOnExit patterns: exact, or a prefix ending in `*`. */
export function globMatch(pattern: string, value: string): boolean {
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const DEFINITION_NAME = /^[A-Za-z0-9_-]{1,128}$/;
const QUEUED: readonly JobStatus[] = ['SUBMITTED', 'PENDING', 'RUNNABLE'];
const DONE: readonly JobStatus[] = ['SUCCEEDED', 'FAILED'];
const STATUSES: readonly JobStatus[] = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED'];
export const CONTAINER_EXITED = 'Essential container in task exited';
export const TIMEOUT_REASON = 'Job attempt duration exceeded timeout';
/** The statusReason of an attempt whose host went away (a Spot reclaim): what retry strategies match on "Host EC2*". */
export const HOST_TERMINATED = 'Host EC2 (instance i-emulated) terminated.';
/** A job whose dependency FAILED, as Batch words it. */
export const DEPENDENCY_FAILED = 'Dependent Job failed';
/** An array parent with a FAILED child, as Batch words it (the counts are in arrayProperties.statusSummary). */
export const ARRAY_CHILD_FAILED = 'Array Child Job failed';

/** What the emulator keeps beside a job: its process, timers, output. */
interface Runtime {
  child?: ChildProcess;
  terminating?: { reason: string };
  timedOut?: boolean;
  /** The host went away (hostFailure): the attempt ends with HOST_TERMINATED. */
  hostLost?: boolean;
  attemptTimer?: NodeJS.Timeout;
  /** SIGKILL after the stop timeout, once SIGTERM was sent. */
  killTimer?: NodeJS.Timeout;
  logTail: string[];
  partial: { out: string; err: string };
  exited?: Promise<void>;
  /** An array parent's TerminateJob/CancelJob reason: its statusReason once its children are done. */
  stopReason?: string;
}

export class BatchEmulator {
  readonly region: string;
  readonly accountId: string;
  /** Jobs as DescribeJobs returns them, by job id. */
  readonly jobs = new Map<string, JobDetail>();
  /** Every operation and its parsed body, in order. */
  readonly requests: { op: string; body: Body }[] = [];
  private readonly queues = new Map<string, JobQueueDetail>();
  private readonly definitions: JobDefinition[] = [];
  private readonly runtime = new Map<string, Runtime>();
  /** Array parent id -> its children, by index. */
  private readonly arrays = new Map<string, JobDetail[]>();
  /** Array child id -> its parent. */
  private readonly parents = new Map<string, JobDetail>();
  /** Job id -> the ids of the jobs that depend on it. */
  private readonly dependents = new Map<string, string[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly o: Required<Omit<BatchEmulatorOptions, 'defaultEntrypoint' | 'onLog' | 'region' | 'accountId' | 'jobQueues'>> &
    Pick<BatchEmulatorOptions, 'defaultEntrypoint' | 'onLog'>;
  private closed = false;

  constructor(o: BatchEmulatorOptions = {}) {
    this.region = o.region ?? 'us-east-1';
    this.accountId = o.accountId ?? '000000000000';
    const concurrency = o.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
    this.o = {
      images: o.images ?? {},
      defaultEntrypoint: o.defaultEntrypoint,
      containerEnv: o.containerEnv ?? {},
      baseEnv: o.baseEnv ?? process.env,
      cwd: o.cwd ?? process.cwd(),
      concurrency,
      dispatch: o.dispatch ?? true,
      transitionMs: o.transitionMs ?? 20,
      stopTimeoutMs: o.stopTimeoutMs ?? 30_000,
      logTailLines: o.logTailLines ?? 200,
      onLog: o.onLog,
    };
    for (const name of o.jobQueues ?? []) this.createJobQueue({ jobQueueName: name });
  }

  private arn(kind: string, id: string): string {
    return `arn:aws:batch:${this.region}:${this.accountId}:${kind}/${id}`;
  }

  /** One operation, named as in the wire path (`submitjob`), with its JSON body. */
  handle(op: string, body: Body): unknown {
    const ops: Record<string, (b: Body) => unknown> = {
      createjobqueue: (b) => this.createJobQueue(b),
      describejobqueues: (b) => this.describeJobQueues(b),
      registerjobdefinition: (b) => this.registerJobDefinition(b),
      describejobdefinitions: (b) => this.describeJobDefinitions(b),
      deregisterjobdefinition: (b) => this.deregisterJobDefinition(b),
      submitjob: (b) => this.submitJob(b),
      describejobs: (b) => this.describeJobs(b),
      listjobs: (b) => this.listJobs(b),
      terminatejob: (b) => this.stopJob(b, 'terminate'),
      canceljob: (b) => this.stopJob(b, 'cancel'),
      // Not a Batch operation: the emulator's way to order a Spot reclaim (tests of retried jobs).
      emulatorhostfailure: (b) => this.hostFailure(reqString(b, 'jobId')),
    };
    const fn = ops[op];
    if (!fn) throw new BatchError(404, 'UnknownOperationException', `operation ${op} is not emulated`);
    this.requests.push({ op, body });
    return fn(body);
  }

  // --- queues and definitions ---------------------------------------------------------------------

  createJobQueue(b: Body): { jobQueueName: string; jobQueueArn: string } {
    const name = reqString(b, 'jobQueueName');
    if (!NAME.test(name)) throw clientError(`jobQueueName "${name}" is invalid`);
    if (this.queues.has(name)) throw clientError(`Object already exists: job queue ${name}`);
    const queue: JobQueueDetail = {
      jobQueueName: name,
      jobQueueArn: this.arn('job-queue', name),
      state: (optString(b, 'state') as JobQueueDetail['state']) ?? 'ENABLED',
      status: 'VALID',
      priority: optInt(b, 'priority', 0, 1000) ?? 1,
      computeEnvironmentOrder: [],
    };
    this.queues.set(name, queue);
    return { jobQueueName: name, jobQueueArn: queue.jobQueueArn! };
  }

  private describeJobQueues(b: Body): { jobQueues: JobQueueDetail[] } {
    const wanted = optStrings(b, 'jobQueues');
    const all = [...this.queues.values()];
    return { jobQueues: wanted ? all.filter((q) => wanted.includes(q.jobQueueName!) || wanted.includes(q.jobQueueArn!)) : all };
  }

  private queue(ref: string): JobQueueDetail {
    const q = [...this.queues.values()].find((x) => x.jobQueueName === ref || x.jobQueueArn === ref);
    if (!q) throw clientError(`JobQueue ${ref} not found`);
    if (q.state !== 'ENABLED') throw clientError(`JobQueue ${ref} is not ENABLED`);
    return q;
  }

  registerJobDefinition(b: Body): { jobDefinitionName: string; jobDefinitionArn: string; revision: number } {
    const name = reqString(b, 'jobDefinitionName');
    if (!DEFINITION_NAME.test(name)) throw clientError(`jobDefinitionName "${name}" is invalid`);
    const type = reqString(b, 'type');
    if (type !== 'container') throw clientError(`type ${type} is not emulated (only container)`);
    const props = optObject(b, 'containerProperties');
    if (!props) throw clientError('containerProperties is required for type container');
    const image = reqString(props, 'image');
    const revision = this.definitions.filter((d) => d.jobDefinitionName === name).length + 1;
    const def: JobDefinition = {
      jobDefinitionName: name,
      jobDefinitionArn: this.arn('job-definition', `${name}:${revision}`),
      revision,
      status: 'ACTIVE',
      type,
      parameters: optStringMap(b, 'parameters') ?? {},
      retryStrategy: optRetryStrategy(b, 'retryStrategy'),
      timeout: optTimeout(b, 'timeout'),
      tags: optStringMap(b, 'tags'),
      containerProperties: {
        image,
        command: optStrings(props, 'command') ?? [],
        environment: optEnvironment(props, 'environment') ?? [],
        resourceRequirements: optResources(props, 'resourceRequirements') ?? [],
        jobRoleArn: optString(props, 'jobRoleArn'),
        executionRoleArn: optString(props, 'executionRoleArn'),
      },
    };
    this.definitions.push(def);
    return { jobDefinitionName: name, jobDefinitionArn: def.jobDefinitionArn!, revision };
  }

  private describeJobDefinitions(b: Body): { jobDefinitions: JobDefinition[] } {
    const refs = optStrings(b, 'jobDefinitions');
    const name = optString(b, 'jobDefinitionName');
    const status = optString(b, 'status');
    const defs = this.definitions.filter(
      (d) =>
        (!refs ||
          refs.some((r) => r === d.jobDefinitionArn || r === `${d.jobDefinitionName}:${d.revision}` || r === d.jobDefinitionName)) &&
        (!name || d.jobDefinitionName === name) &&
        (!status || d.status === status),
    );
    return { jobDefinitions: defs };
  }

  private deregisterJobDefinition(b: Body): Record<string, never> {
    const ref = reqString(b, 'jobDefinition');
    const def = this.definitions.find((d) => d.jobDefinitionArn === ref || `${d.jobDefinitionName}:${d.revision}` === ref);
    if (!def) throw clientError(`JobDefinition ${ref} not found`);
    def.status = 'INACTIVE';
    return {};
  }

  /** `name` (latest ACTIVE revision), `name:revision`, or the ARN. */
  private definition(ref: string): JobDefinition {
    const byRevision = this.definitions.find((d) => d.jobDefinitionArn === ref || `${d.jobDefinitionName}:${d.revision}` === ref);
    const def = byRevision ?? this.definitions.filter((d) => d.jobDefinitionName === ref && d.status === 'ACTIVE').at(-1);
    if (def?.status !== 'ACTIVE') throw clientError(`JobDefinition ${ref} not found or not ACTIVE`);
    return def;
  }

  // --- jobs ------------------------------------------------------------------------------------------

  submitJob(b: Body): { jobArn: string; jobName: string; jobId: string } {
    const jobName = reqString(b, 'jobName');
    if (!NAME.test(jobName))
      throw clientError(
        `jobName "${jobName}" is invalid: up to 128 letters, digits, hyphens and underscores, starting with a letter or digit`,
      );
    const queue = this.queue(reqString(b, 'jobQueue'));
    const def = this.definition(reqString(b, 'jobDefinition'));
    if (b.nodeOverrides !== undefined) throw clientError('nodeOverrides is not emulated (no multi-node parallel jobs)');
    const size = optArraySize(b, 'arrayProperties');
    const dependsOn = optDependsOn(b, 'dependsOn') ?? [];
    for (const [i, d] of dependsOn.entries())
      if (!this.jobs.has(d.jobId!)) throw clientError(`dependsOn[${i}].jobId: job ${d.jobId} not found`);
    const overrides = optObject(b, 'containerOverrides') ?? {};
    const parameters = { ...def.parameters, ...optStringMap(b, 'parameters') };
    const command = (optStrings(overrides, 'command') ?? def.containerProperties!.command ?? []).map((arg) =>
      arg.replace(/Ref::([A-Za-z0-9_]+)/g, (ref, p: string) => parameters[p] ?? ref),
    );
    // Override variables replace the definition's of the same name; the rest keep the definition's order.
    const env = new Map((def.containerProperties!.environment ?? []).map((e) => [e.name!, e.value ?? '']));
    for (const e of optEnvironment(overrides, 'environment') ?? []) env.set(e.name!, e.value ?? '');
    const jobId = randomUUID();
    const job: JobDetail = {
      jobArn: this.arn('job', jobId),
      jobName,
      jobId,
      jobQueue: queue.jobQueueArn!,
      status: 'SUBMITTED',
      createdAt: Date.now(),
      startedAt: undefined,
      jobDefinition: def.jobDefinitionArn!,
      parameters,
      dependsOn,
      attempts: [],
      retryStrategy: optRetryStrategy(b, 'retryStrategy') ?? def.retryStrategy,
      timeout: optTimeout(b, 'timeout') ?? def.timeout,
      tags: optStringMap(b, 'tags'),
      container: {
        image: def.containerProperties!.image,
        command,
        environment: [...env].map(([name, value]) => ({ name, value })),
        resourceRequirements: optResources(overrides, 'resourceRequirements') ?? def.containerProperties!.resourceRequirements,
      },
    };
    this.add(job);
    for (const d of dependsOn) this.dependents.set(d.jobId!, [...(this.dependents.get(d.jobId!) ?? []), jobId]);
    if (size === undefined) {
      if (this.o.dispatch) this.later(() => this.pend(job));
    } else {
      // The parent is a pointer that runs nothing; its children are spawned PENDING (their createdAt, on Batch).
      job.arrayProperties = { size };
      const children = Array.from({ length: size }, (_, index) => this.spawnChild(job, index));
      this.arrays.set(jobId, children);
      this.rollup(job);
      if (this.o.dispatch) this.later(() => this.ready(children));
    }
    return { jobArn: job.jobArn!, jobName, jobId };
  }

  private add(job: JobDetail): void {
    this.jobs.set(job.jobId!, job);
    this.runtime.set(job.jobId!, { logTail: [], partial: { out: '', err: '' } });
  }

  /** Child `index` of an array: the parent's job, id `<parent>:<index>`; it waits on the parent's dependencies. */
  private spawnChild(parent: JobDetail, index: number): JobDetail {
    const jobId = `${parent.jobId}:${index}`;
    const child: JobDetail = {
      ...parent,
      jobArn: this.arn('job', jobId),
      jobId,
      status: 'PENDING',
      dependsOn: [],
      attempts: [],
      arrayProperties: { index },
      container: { ...parent.container, environment: [...(parent.container?.environment ?? [])] },
    };
    this.add(child);
    this.parents.set(jobId, parent);
    return child;
  }

  private describeJobs(b: Body): { jobs: JobDetail[] } {
    const ids = optStrings(b, 'jobs');
    if (!ids || ids.length === 0 || ids.length > 100) throw clientError('jobs must list 1 to 100 job ids');
    const found = ids.flatMap((id) => {
      const job = this.jobs.get(id) ?? [...this.jobs.values()].find((j) => j.jobArn === id);
      return job ? [job] : [];
    });
    // Children's STARTING/RUNNING moves do not roll up as they happen; the summary is counted now.
    for (const job of found) if (this.arrays.has(job.jobId!)) this.rollup(job);
    return { jobs: found };
  }

  private listJobs(b: Body): { jobSummaryList: JobSummary[]; nextToken?: string } {
    const queueRef = optString(b, 'jobQueue');
    const arrayJobId = optString(b, 'arrayJobId');
    if (optString(b, 'multiNodeJobId') !== undefined) throw clientError('multiNodeJobId is not emulated');
    if (queueRef && arrayJobId) throw clientError('give one of jobQueue and arrayJobId, not both');
    let scope: JobDetail[];
    if (arrayJobId) {
      if (!this.jobs.has(arrayJobId)) throw clientError(`Job ${arrayJobId} not found`);
      const children = this.arrays.get(arrayJobId);
      if (!children) throw clientError(`Job ${arrayJobId} is not an array job`);
      // Batch: "The filter doesn't apply to child jobs in an array".
      if (b.filters !== undefined && b.filters !== null) throw clientError('filters do not apply to the children of an array job');
      scope = children;
    } else {
      if (!queueRef) throw clientError('jobQueue is required (or arrayJobId; multiNodeJobId is not emulated)');
      const queue = [...this.queues.values()].find((x) => x.jobQueueName === queueRef || x.jobQueueArn === queueRef);
      if (!queue) throw clientError(`JobQueue ${queueRef} not found`);
      // A queue lists array parents, not their children (those are listed by arrayJobId), as on Batch.
      scope = [...this.jobs.values()].filter((j) => j.jobQueue === queue.jobQueueArn && !this.parents.has(j.jobId!));
      for (const j of scope) if (this.arrays.has(j.jobId!)) this.rollup(j);
    }
    const filters = b.filters;
    let match: (j: JobDetail) => boolean;
    if (filters !== undefined && filters !== null) {
      if (!Array.isArray(filters)) throw clientError('filters must be a list of {name, values}');
      // With filters, Batch ignores jobStatus and looks at every status.
      const tests = filters.map((f, i): ((j: JobDetail) => boolean) => {
        if (
          !isObject(f) ||
          typeof f.name !== 'string' ||
          !Array.isArray(f.values) ||
          f.values.length !== 1 ||
          typeof f.values[0] !== 'string'
        )
          throw clientError(`filters[${i}] must be {name, values: [one value]}`);
        const value: string = f.values[0];
        if (f.name === 'JOB_NAME') return (j) => globMatch(value, j.jobName!);
        if (f.name === 'JOB_DEFINITION') return (j) => j.jobDefinition === value || globMatch(value, j.jobDefinition!.split('/').pop()!);
        if (f.name === 'BEFORE_CREATED_AT') return (j) => j.createdAt! < Number(value);
        if (f.name === 'AFTER_CREATED_AT') return (j) => j.createdAt! > Number(value);
        throw clientError(`filters[${i}].name ${f.name} is not one of JOB_NAME, JOB_DEFINITION, BEFORE_CREATED_AT, AFTER_CREATED_AT`);
      });
      match = (j) => tests.every((t) => t(j));
    } else {
      // Without a status Batch lists RUNNING jobs only.
      const status = (optString(b, 'jobStatus') ?? 'RUNNING') as JobStatus;
      if (!STATUSES.includes(status)) throw clientError(`jobStatus ${status} is not one of ${STATUSES.join(', ')}`);
      match = (j) => j.status === status;
    }
    const maxResults = optInt(b, 'maxResults', 1, 1000) ?? 100;
    const token = optString(b, 'nextToken');
    let offset = 0;
    if (token !== undefined) {
      offset = Number(Buffer.from(token, 'base64url').toString('utf8'));
      if (!Number.isInteger(offset) || offset < 0) throw clientError('nextToken is invalid');
    }
    // Stable: an array's children (one createdAt) stay in index order.
    const all = scope.filter(match).sort((x, y) => x.createdAt! - y.createdAt!);
    const page = all.slice(offset, offset + maxResults).map(
      (j): JobSummary => ({
        jobArn: j.jobArn,
        jobId: j.jobId,
        jobName: j.jobName,
        createdAt: j.createdAt,
        status: j.status,
        statusReason: j.statusReason,
        startedAt: j.startedAt,
        stoppedAt: j.stoppedAt,
        jobDefinition: j.jobDefinition,
        arrayProperties: j.arrayProperties && {
          size: j.arrayProperties.size,
          index: j.arrayProperties.index,
          statusSummary: j.arrayProperties.statusSummary,
          statusSummaryLastUpdatedAt: j.arrayProperties.statusSummaryLastUpdatedAt,
        },
        container:
          j.container && (j.container.exitCode !== undefined || j.container.reason !== undefined)
            ? { exitCode: j.container.exitCode, reason: j.container.reason }
            : undefined,
      }),
    );
    const next = offset + maxResults < all.length ? Buffer.from(String(offset + maxResults)).toString('base64url') : undefined;
    return next ? { jobSummaryList: page, nextToken: next } : { jobSummaryList: page };
  }

  /**
   * TerminateJob stops a job in any state that is not done (its container gets SIGTERM, then SIGKILL
   * after stopTimeoutMs); CancelJob only one not yet STARTING (later ones keep running; the call
   * still succeeds, as on Batch). Either way the job ends FAILED with the given reason and is not retried.
   * On an array parent, each child is stopped so; the parent ends once they all have ("The array parent
   * job is canceled when all child jobs are completed"), FAILED with the given reason if any child failed.
   */
  private stopJob(b: Body, how: 'terminate' | 'cancel'): Record<string, never> {
    const jobId = reqString(b, 'jobId');
    const reason = reqString(b, 'reason');
    const job = this.jobs.get(jobId);
    if (!job) throw clientError(`Job ${jobId} not found`);
    const children = this.arrays.get(jobId);
    if (!children) {
      this.stop(job, how, reason);
      return {};
    }
    if (DONE.includes(job.status!)) return {};
    this.runtime.get(jobId)!.stopReason ??= reason;
    for (const child of children) this.stop(child, how, reason);
    this.rollup(job);
    return {};
  }

  private stop(job: JobDetail, how: 'terminate' | 'cancel', reason: string): void {
    const jobId = job.jobId!;
    const rt = this.runtime.get(jobId)!;
    if (DONE.includes(job.status!) || rt.terminating) return;
    if (QUEUED.includes(job.status!)) {
      this.finish(job, { status: 'FAILED', statusReason: reason });
    } else if (how === 'terminate') {
      rt.terminating = { reason };
      if (rt.child) this.kill(jobId, 'SIGTERM');
      // A job moved to RUNNING by hand (`update`) has no container to stop; a STARTING one stops as it starts.
      else if (job.status === 'RUNNING') this.finish(job, { status: 'FAILED', statusReason: reason });
    }
  }

  /** An array parent's status from its children's: SUBMITTED until one is past PENDING, then PENDING until all are done. */
  private rollup(parent: JobDetail): void {
    const children = this.arrays.get(parent.jobId!)!;
    const statusSummary: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    for (const c of children) statusSummary[c.status!]++;
    parent.arrayProperties = { size: children.length, statusSummary, statusSummaryLastUpdatedAt: Date.now() };
    if (DONE.includes(parent.status!)) return;
    if (statusSummary.SUCCEEDED === children.length) {
      this.finish(parent, { status: 'SUCCEEDED' });
    } else if (statusSummary.SUCCEEDED + statusSummary.FAILED === children.length) {
      const stopReason = this.runtime.get(parent.jobId!)!.stopReason;
      const statusReason = stopReason ?? (this.gate(parent) === 'failed' ? DEPENDENCY_FAILED : ARRAY_CHILD_FAILED);
      this.finish(parent, { status: 'FAILED', statusReason });
    } else if (parent.status === 'SUBMITTED' && statusSummary.SUBMITTED + statusSummary.PENDING < children.length) {
      parent.status = 'PENDING';
    }
  }

  /** Whether a job may leave PENDING: its dependencies' (and, for an array child, its parent's) outcome. */
  private gate(job: JobDetail): 'open' | 'wait' | 'failed' {
    const deps = [...(job.dependsOn ?? []), ...(this.parents.get(job.jobId!)?.dependsOn ?? [])].map((d) => this.jobs.get(d.jobId!)!);
    if (deps.some((d) => d.status === 'FAILED')) return 'failed';
    return deps.every((d) => d.status === 'SUCCEEDED') ? 'open' : 'wait';
  }

  // --- the scheduler and the containers -----------------------------------------------------------

  private later(fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, this.o.transitionMs);
    this.timers.add(t);
  }

  private pend(job: JobDetail): void {
    if (job.status !== 'SUBMITTED') return; // cancelled or moved by a test meanwhile
    job.status = 'PENDING';
    this.later(() => this.ready([job]));
  }

  /**
   * PENDING -> RUNNABLE for the jobs whose dependencies all SUCCEEDED, FAILED for those with a FAILED
   * one; the others stay PENDING until a dependency ends (`release`). Then one scheduling pass.
   */
  private ready(jobs: readonly JobDetail[]): void {
    const parents = new Set<JobDetail>();
    for (const job of jobs) {
      if (job.status !== 'PENDING') continue; // cancelled or moved by a test meanwhile
      const gate = this.gate(job);
      if (gate === 'failed') this.finish(job, { status: 'FAILED', statusReason: DEPENDENCY_FAILED });
      if (gate !== 'open') continue;
      job.status = 'RUNNABLE';
      const parent = this.parents.get(job.jobId!);
      if (parent) parents.add(parent);
    }
    for (const parent of parents) this.rollup(parent);
    this.schedule();
  }

  /** A job ended: the jobs waiting on it (an array dependent's children) get another look. */
  private release(jobId: string): void {
    if (!this.o.dispatch) return;
    const waiting = (this.dependents.get(jobId) ?? [])
      .flatMap((id) => this.arrays.get(id) ?? [this.jobs.get(id)!])
      .filter((j) => j.status === 'PENDING');
    if (waiting.length > 0) this.later(() => this.ready(waiting));
  }

  /** Starts RUNNABLE jobs, oldest first, while capacity is free. */
  private schedule(): void {
    if (this.closed || !this.o.dispatch) return;
    const all = [...this.jobs.values()];
    let running = all.filter((j) => j.status === 'STARTING' || j.status === 'RUNNING').length;
    const waiting = all.filter((j) => j.status === 'RUNNABLE').sort((x, y) => x.createdAt! - y.createdAt!);
    for (const job of waiting) {
      if (running >= this.o.concurrency) return;
      running++;
      job.status = 'STARTING';
      job.statusReason = undefined;
      this.later(() => this.start(job.jobId!));
    }
  }

  private entrypoint(image: string): readonly string[] | undefined {
    return this.o.images[image] ?? this.o.defaultEntrypoint;
  }

  private start(jobId: string): void {
    const job = this.jobs.get(jobId)!;
    const rt = this.runtime.get(jobId)!;
    if (job.status !== 'STARTING') return;
    const attempt = job.attempts!.length + 1;
    const taskId = randomUUID().replace(/-/g, '');
    const logStreamName = `${job.jobDefinition!.split('/').pop()!.split(':')[0]}/default/${taskId}`;
    job.container = {
      ...job.container,
      exitCode: undefined,
      reason: undefined,
      logStreamName,
      taskArn: `arn:aws:ecs:${this.region}:${this.accountId}:task/emulated/${taskId}`,
    };
    if (rt.terminating) {
      this.endAttempt(job, { statusReason: rt.terminating.reason });
      return;
    }
    const entry = this.entrypoint(job.container.image!);
    if (!entry || entry.length === 0) {
      this.endAttempt(job, {
        reason: `CannotPullContainerError: no local entrypoint for image ${job.container.image}`,
        statusReason: 'Task failed to start',
      });
      return;
    }
    const env: NodeJS.ProcessEnv = {
      ...this.o.baseEnv,
      ...this.o.containerEnv,
      AWS_BATCH_JOB_ID: jobId,
      AWS_BATCH_JOB_ATTEMPT: String(attempt),
      AWS_BATCH_JQ_NAME: job.jobQueue!.split('/').pop(),
      AWS_BATCH_CE_NAME: 'emulated',
      ...(job.arrayProperties?.index === undefined ? {} : { AWS_BATCH_JOB_ARRAY_INDEX: String(job.arrayProperties.index) }),
      ...Object.fromEntries((job.container.environment ?? []).map((e) => [e.name!, e.value ?? ''])),
    };
    const [program, ...args] = [...entry, ...(job.container.command ?? [])];
    // Its own process group, so stopping the "container" stops everything it started.
    const child = spawn(program, args, { cwd: this.o.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    rt.child = child;
    rt.timedOut = false;
    rt.hostLost = false;
    child.stdout!.setEncoding('utf8').on('data', (s: string) => this.output(jobId, 'out', s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => this.output(jobId, 'err', s));
    rt.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        rt.child = undefined;
        this.endAttempt(job, { reason: `CannotStartContainerError: ${err.message}`, statusReason: 'Task failed to start' });
        resolve();
      });
      child.once('spawn', () => {
        if (job.status !== 'STARTING') return;
        job.status = 'RUNNING';
        job.startedAt = Date.now();
        if (rt.terminating) this.kill(jobId, 'SIGTERM');
        const seconds = job.timeout?.attemptDurationSeconds;
        if (seconds) {
          rt.attemptTimer = setTimeout(() => {
            rt.timedOut = true;
            this.kill(jobId, 'SIGTERM');
          }, seconds * 1000);
        }
      });
      // The container stops when its main process exits: whatever it left behind goes too.
      child.once('exit', () => this.signalGroup(child, 'SIGKILL'));
      child.once('close', (code, signal) => {
        rt.child = undefined;
        clearTimeout(rt.attemptTimer);
        clearTimeout(rt.killTimer);
        rt.killTimer = undefined;
        this.flush(jobId);
        const exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
        if (rt.terminating) this.endAttempt(job, { exitCode, statusReason: rt.terminating.reason });
        else if (rt.hostLost) this.endAttempt(job, { exitCode, statusReason: HOST_TERMINATED });
        else if (rt.timedOut) this.endAttempt(job, { exitCode, statusReason: TIMEOUT_REASON });
        else this.endAttempt(job, { exitCode, statusReason: CONTAINER_EXITED });
        resolve();
      });
    });
  }

  private signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM now, SIGKILL after the stop timeout if it is still there. */
  private kill(jobId: string, signal: 'SIGTERM'): void {
    const rt = this.runtime.get(jobId)!;
    const child = rt.child;
    if (!child) return;
    this.signalGroup(child, signal);
    rt.killTimer ??= setTimeout(() => this.signalGroup(child, 'SIGKILL'), this.o.stopTimeoutMs);
  }

  /**
   * The running job's host goes away, as a Spot reclaim without its two-minute notice: the container's
   * processes are killed outright (SIGKILL, no SIGTERM first) and the attempt ends with HOST_TERMINATED,
   * which the retry strategy may retry.
   */
  hostFailure(jobId: string): { jobId: string } {
    const rt = this.runtime.get(jobId);
    if (!rt?.child) throw clientError(`job ${jobId} is not running`);
    rt.hostLost = true;
    this.signalGroup(rt.child, 'SIGKILL');
    return { jobId };
  }

  /** Records one attempt's end; retries it (back to RUNNABLE) when the retry strategy says so. */
  private endAttempt(job: JobDetail, end: { exitCode?: number; reason?: string; statusReason: string }): void {
    const rt = this.runtime.get(job.jobId!)!;
    const now = Date.now();
    job.container = { ...job.container, exitCode: end.exitCode, reason: end.reason };
    job.attempts!.push({
      container: { exitCode: end.exitCode, reason: end.reason, logStreamName: job.container.logStreamName, taskArn: job.container.taskArn },
      startedAt: job.startedAt,
      stoppedAt: now,
      statusReason: end.statusReason,
    });
    if (end.exitCode === 0) {
      this.finish(job, { status: 'SUCCEEDED', statusReason: end.statusReason });
      return;
    }
    // Terminated and timed-out attempts are not retried, as on Batch.
    if (!rt.terminating && !rt.timedOut && this.shouldRetry(job, end)) {
      job.status = 'RUNNABLE';
      job.statusReason = end.statusReason;
      this.schedule();
      return;
    }
    this.finish(job, { status: 'FAILED', statusReason: end.statusReason });
  }

  private shouldRetry(job: JobDetail, end: { exitCode?: number; reason?: string; statusReason: string }): boolean {
    const attempts = job.retryStrategy?.attempts ?? 1;
    if (job.attempts!.length >= attempts) return false;
    // The first rule whose every given pattern matches decides; when none matches, Batch retries.
    for (const rule of job.retryStrategy?.evaluateOnExit ?? []) {
      const ok =
        (rule.onExitCode === undefined || (end.exitCode !== undefined && globMatch(rule.onExitCode, String(end.exitCode)))) &&
        (rule.onReason === undefined || globMatch(rule.onReason, end.reason ?? '')) &&
        (rule.onStatusReason === undefined || globMatch(rule.onStatusReason, end.statusReason));
      if (ok) return rule.action?.toUpperCase() === 'RETRY';
    }
    return true;
  }

  private finish(job: JobDetail, end: { status: 'SUCCEEDED' | 'FAILED'; statusReason?: string }): void {
    job.status = end.status;
    job.statusReason = end.statusReason;
    job.stoppedAt = Date.now();
    const parent = this.parents.get(job.jobId!);
    if (parent) this.rollup(parent);
    this.release(job.jobId!);
    this.schedule();
  }

  private output(jobId: string, stream: 'out' | 'err', text: string): void {
    const rt = this.runtime.get(jobId)!;
    const lines = (rt.partial[stream] + text).split(/\r?\n/);
    rt.partial[stream] = lines.pop()!;
    for (const line of lines) this.logLine(jobId, line);
  }

  private flush(jobId: string): void {
    const rt = this.runtime.get(jobId)!;
    for (const stream of ['out', 'err'] as const) {
      if (rt.partial[stream]) this.logLine(jobId, rt.partial[stream]);
      rt.partial[stream] = '';
    }
  }

  private logLine(jobId: string, line: string): void {
    const rt = this.runtime.get(jobId)!;
    rt.logTail.push(line);
    if (rt.logTail.length > this.o.logTailLines) rt.logTail.shift();
    this.o.onLog?.(jobId, line);
  }

  // --- for tests and runners -------------------------------------------------------------------------

  /** The last lines the job's containers wrote (all attempts, stdout and stderr interleaved). */
  logs(jobId: string): string[] {
    return [...(this.runtime.get(jobId)?.logTail ?? [])];
  }

  /** Changes a job by hand (with `dispatch: false`, to walk a job through states); an array parent follows. */
  update(jobId: string, patch: Partial<JobDetail>): void {
    const job = this.jobs.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    Object.assign(job, patch);
    const parent = this.parents.get(jobId);
    if (parent) this.rollup(parent);
    if (DONE.includes(job.status!)) this.release(jobId);
  }

  /** Stops every container (SIGKILL) and waits for them; the emulator starts nothing afterwards. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const exits: Promise<void>[] = [];
    for (const rt of this.runtime.values()) {
      if (!rt.child) continue;
      rt.terminating ??= { reason: 'Batch emulator shut down' };
      this.signalGroup(rt.child, 'SIGKILL');
      if (rt.exited) exits.push(rt.exited);
    }
    await Promise.all(exits);
  }
}
