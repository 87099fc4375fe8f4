/**
 * Fine-tune jobs, shaped like OpenAI's fine-tuning API: create (202 + Location, Idempotency-Key),
 * retrieve, list (newest first, cursor `after`), cancel. Everything a request says is checked before
 * anything is written or launched.
 */
import { randomBytes } from 'node:crypto';
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { JobSpec, JobState, JobStatus } from '../../shared/job.ts';
import { RegistryError } from '../../shared/registry.ts';
import type { LaunchedJob, LauncherView } from '../jobs/launcher.ts';
import type { ResolvedDeps } from '../app.ts';
import { ProblemError, type InvalidParam } from '../http/problem.ts';
import { FinetuneRequestSchema, IdempotencyHeader, JobIdParam, JobListSchema, JobSchema, ListJobsQuery, type FinetuneRequest, type Job } from '../schemas.ts';
import { problemResponses } from './common.ts';
import { canonicalJson, sha256Hex, type IdempotencyRecord } from './idempotency.ts';

/** `ft-` + the creation time in base 36 (fixed width, so ids sort by time) + 48 random bits. */
export function newJobId(now: Date): string {
  return `ft-${now.getTime().toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}

const TERMINAL: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export function jobView(spec: JobSpec, status: JobStatus | null, launcher?: LauncherView): Job {
  let state: JobState = status?.state ?? 'queued';
  let error = status?.error ?? null;
  // A container that died before it could report still shows as failed (or cancelled).
  if (launcher && !TERMINAL.includes(state)) {
    if (launcher.state === 'failed' || launcher.state === 'cancelled') {
      state = launcher.state;
      error = launcher.state === 'failed' ? { message: launcher.reason ?? 'the job stopped without reporting why' } : error;
    } else if (launcher.state === 'running' && state === 'queued') {
      state = 'running';
    }
  }
  const step = status?.step ?? 0;
  const totalSteps = status?.totalSteps ?? 0;
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
    updatedAt: status?.updatedAt ?? null,
    startedAt: status?.startedAt ?? null,
    finishedAt: status?.finishedAt ?? null,
    progress: { step, totalSteps, epoch: status?.epoch ?? 0, fraction: state === 'succeeded' ? 1 : totalSteps > 0 ? Math.min(1, step / totalSteps) : 0 },
    loss: status?.loss ?? null,
    metrics: status?.validation ?? null,
    adapterVersion: status?.adapterVersion ?? null,
    error,
  };
}

const createJob = createRoute({
  method: 'post',
  path: '/finetune',
  tags: ['fine-tuning'],
  summary: 'Create a fine-tune job',
  description: 'Validates the request, records the job and submits it. A retried request with the same `Idempotency-Key` and body returns the same job.',
  request: { headers: IdempotencyHeader, body: { required: true, content: { 'application/json': { schema: FinetuneRequestSchema } } } },
  responses: {
    202: { description: 'Accepted: the job is queued. `Location` is its URL.', content: { 'application/json': { schema: JobSchema } } },
    ...problemResponses(400, 401, 409, 413, 415, 422, 502),
  },
});

const getJob = createRoute({
  method: 'get',
  path: '/finetune/{jobId}',
  tags: ['fine-tuning'],
  summary: 'Retrieve a fine-tune job',
  request: { params: JobIdParam },
  responses: { 200: { description: 'The job: status, progress, metrics, adapter version or error.', content: { 'application/json': { schema: JobSchema } } }, ...problemResponses(400, 401, 404) },
});

const listJobs = createRoute({
  method: 'get',
  path: '/finetune',
  tags: ['fine-tuning'],
  summary: 'List fine-tune jobs, newest first',
  request: { query: ListJobsQuery },
  responses: { 200: { description: 'A page of jobs.', content: { 'application/json': { schema: JobListSchema } } }, ...problemResponses(400, 401) },
});

const cancelJob = createRoute({
  method: 'post',
  path: '/finetune/{jobId}/cancel',
  tags: ['fine-tuning'],
  summary: 'Cancel a fine-tune job',
  request: { params: JobIdParam },
  responses: { 200: { description: 'The job, cancelled.', content: { 'application/json': { schema: JobSchema } } }, ...problemResponses(400, 401, 404, 409) },
});

/** Bucket and key of an s3://bucket/key URI (the request schema has checked its shape). */
function s3Location(uri: string): { bucket: string; key: string } {
  const path = uri.slice('s3://'.length);
  const slash = path.indexOf('/');
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}

export function registerFinetuneRoutes(app: OpenAPIHono, deps: ResolvedDeps): void {
  const { registry, launcher } = deps;
  const allowed = new Set(deps.allowedDatasetBuckets);

  async function checkPolicy(body: FinetuneRequest, baseModel: string): Promise<void> {
    const invalid: InvalidParam[] = [];
    for (const field of ['datasetUri', 'validationUri'] as const) {
      const uri = body[field];
      const bucket = uri === undefined ? undefined : s3Location(uri).bucket;
      if (bucket !== undefined && !allowed.has(bucket)) invalid.push({ name: field, reason: `bucket "${bucket}" is not one this deployment reads datasets from` });
    }
    if (invalid.length > 0) throw new ProblemError(422, 'dataset-not-allowed', 'the dataset must be in a bucket this deployment allows', invalid);
    // A job on a dataset that is not there would only fail later, on a GPU host: say so now.
    for (const field of ['datasetUri', 'validationUri'] as const) {
      const uri = body[field];
      if (uri === undefined) continue;
      const { bucket, key } = s3Location(uri);
      const state = await registry.objectState(bucket, key);
      if (state === 'missing') invalid.push({ name: field, reason: `no object at ${uri} (upload it first: POST /datasets)` });
      if (state === 'forbidden') invalid.push({ name: field, reason: `${uri} cannot be read with this deployment's permissions (or does not exist)` });
    }
    if (invalid.length > 0) throw new ProblemError(422, 'dataset-not-found', 'the dataset must exist and be readable', invalid);
    if (!(await registry.modelExists(baseModel))) {
      throw new ProblemError(422, 'unknown-base-model', `base model "${baseModel}" is not in the registry`, [{ name: 'baseModel', reason: `no model "${baseModel}" under models/` }]);
    }
  }

  /**
   * status.json, except that a cancel request (cancel.json, written only here) wins over whatever a
   * stopping trainer wrote last, unless the job had succeeded: its version is published then.
   */
  async function currentStatus(jobId: string): Promise<JobStatus | null> {
    const status = await registry.getJobStatus(jobId);
    if (!status || status.state === 'succeeded' || status.state === 'cancelled') return status;
    const cancel = await registry.getJobCancel(jobId);
    return cancel ? { ...status, state: 'cancelled', error: undefined, finishedAt: status.finishedAt ?? cancel.requestedAt } : status;
  }

  async function view(jobId: string, merge: boolean): Promise<Job> {
    const spec = await registry.getJobSpec(jobId);
    const status = await currentStatus(jobId);
    let launched: LauncherView | undefined;
    if (merge && !TERMINAL.includes(status?.state ?? 'queued')) {
      const handle = await registry.getJobLaunch<LaunchedJob>(jobId);
      if (handle) {
        try {
          launched = await launcher.describe(handle);
        } catch (err) {
          deps.log({ time: deps.now().toISOString(), level: 'warn', msg: 'launcher describe failed', jobId, error: (err as Error).message });
        }
      }
    }
    return jobView(spec, status, launched);
  }

  app.openapi(createJob, async (c) => {
    const body = c.req.valid('json');
    const idempotencyKey = c.req.valid('header')['idempotency-key'];
    const baseModel = body.baseModel ?? deps.defaultBaseModel;
    await checkPolicy(body, baseModel);

    const now = deps.now();
    const jobId = newJobId(now);
    if (idempotencyKey !== undefined) {
      const requestSha256 = sha256Hex(canonicalJson({ ...body, baseModel }));
      const existing = await registry.claimIdempotencyKey<IdempotencyRecord>(idempotencyKey, { jobId, requestSha256, createdAt: now.toISOString() });
      if (existing) {
        if (existing.requestSha256 !== requestSha256) {
          throw new ProblemError(409, 'idempotency-key-reused', 'this Idempotency-Key was used with a different request', [{ name: 'Idempotency-Key', reason: 'already used for another request body' }]);
        }
        if (!(await registry.getJobStatus(existing.jobId))) {
          throw new ProblemError(409, 'idempotent-request-in-progress', 'the first request with this Idempotency-Key is still being processed; retry shortly', [], { 'retry-after': '1' });
        }
        c.header('location', `/finetune/${existing.jobId}`);
        c.header('idempotent-replayed', 'true');
        return c.json(await view(existing.jobId, true), 202);
      }
    }

    const spec: JobSpec = {
      format: 'adapter-store.job/v1',
      jobId,
      task: body.task,
      datasetUri: body.datasetUri,
      ...(body.validationUri !== undefined ? { validationUri: body.validationUri } : {}),
      baseModel,
      hyperparameters: body.hyperparameters ?? {},
      createdAt: now.toISOString(),
    };
    const status: JobStatus = { format: 'adapter-store.job-status/v1', jobId, state: 'queued', step: 0, totalSteps: 0, epoch: 0, loss: null, validation: null, updatedAt: now.toISOString() };
    try {
      await registry.putJobSpec(spec);
      await registry.putJobStatus(status);
    } catch (err) {
      if (idempotencyKey !== undefined) await registry.releaseIdempotencyKey(idempotencyKey);
      throw err;
    }
    try {
      await registry.putJobLaunch(jobId, await launcher.submit({ jobId, task: spec.task }));
    } catch (err) {
      const message = `submitting the job failed: ${(err as Error).message}`;
      await registry.putJobStatus({ ...status, state: 'failed', error: { message }, finishedAt: deps.now().toISOString(), updatedAt: deps.now().toISOString() });
      throw new ProblemError(502, 'launch-failed', `${message} (job ${jobId} is recorded as failed)`);
    }
    c.header('location', `/finetune/${jobId}`);
    return c.json(jobView(spec, status), 202);
  });

  app.openapi(getJob, async (c) => c.json(await view(c.req.valid('param').jobId, true), 200));

  app.openapi(listJobs, async (c) => {
    const { task, limit, after } = c.req.valid('query');
    // One bounded listing of the job index per page, then each job's spec and status.
    const { ids, hasMore } = await registry.listJobIds({ task, limit, after }).catch((err: unknown) => {
      if (after !== undefined && err instanceof RegistryError && err.code === 'not-found') {
        throw new ProblemError(400, 'validation-error', `invalid query: after`, [{ name: 'after', reason: `no job "${after}" to continue after` }]);
      }
      throw err;
    });
    const data = await Promise.all(ids.map(async (id) => jobView(await registry.getJobSpec(id), await currentStatus(id))));
    return c.json({ object: 'list' as const, data, hasMore, nextCursor: hasMore ? data[data.length - 1].jobId : null }, 200);
  });

  app.openapi(cancelJob, async (c) => {
    const { jobId } = c.req.valid('param');
    const current = await view(jobId, true);
    if (current.status === 'cancelled') return c.json(current, 200);
    if (current.status === 'succeeded' || current.status === 'failed') {
      throw new ProblemError(409, 'job-finished', `job ${jobId} already ${current.status}; only queued or running jobs can be cancelled`, [{ name: 'jobId', reason: `job is ${current.status}` }]);
    }
    // The API never writes status.json here (the trainer owns it): the cancel record decides the view.
    await registry.putJobCancel(jobId, { requestedAt: deps.now().toISOString() });
    const handle = await registry.getJobLaunch<LaunchedJob>(jobId);
    if (handle) await launcher.cancel(handle);
    const after = await view(jobId, false);
    if (after.status === 'succeeded') {
      throw new ProblemError(409, 'job-finished', `job ${jobId} succeeded before the cancel took effect; its adapter version ${after.adapterVersion} is published`, [{ name: 'jobId', reason: 'job is succeeded' }]);
    }
    return c.json(after, 200);
  });
}
