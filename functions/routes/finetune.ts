/**
 * Fine-tune jobs, shaped like OpenAI's fine-tuning API: create (202 + Location, Idempotency-Key),
 * retrieve, list (newest first, cursor `after`), cancel. Everything a request says is checked before
 * anything is written or launched.
 */
import { randomBytes } from 'node:crypto';
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { type JobSpec, queuedStatus } from '../../shared/job.ts';
import { endedStatus, failedEvent } from '../../shared/job-end.ts';
import { newJobEvent } from '../../shared/job-events.ts';
import { factsToRead, type JobFacts, jobView, publicationMatters } from '../../shared/job-lifecycle.ts';
import { RegistryError } from '../../shared/registry/index.ts';
import { closestName } from '../../shared/suggest.ts';
import { isSweep, sweepPoints, sweepSize } from '../../shared/sweep.ts';
import { labelListProblem } from '../../shared/training-data/label-limits.ts';
import { MAX_VALIDATION_ROWS, trainDefaults } from '../../trainer/train/defaults.ts';
import type { ResolvedDeps } from '../app.ts';
import { type InvalidParam, ProblemError } from '../http/problem.ts';
import type { LaunchedJob } from '../jobs/launcher.ts';
import { parametersFromHeader } from '../jobs/model-parameters.ts';
import { jobBudget, jobCost, keyOwner } from '../jobs/spend.ts';
import {
  type FinetuneRequest,
  FinetuneRequestSchema,
  IdempotencyHeader,
  type Job,
  JobIdParam,
  JobListSchema,
  JobSchema,
  ListJobsQuery,
} from '../schemas.ts';
import { problemResponses } from './common.ts';
import { canonicalJson, type IdempotencyRecord, sha256Hex } from './idempotency.ts';

/** `ft-` + the creation time in base 36 (fixed width, so ids sort by time) + 48 random bits. */
export function newJobId(now: Date): string {
  return `ft-${now.getTime().toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}

/** Seconds a client is asked to wait when the queue or its key's share is full. */
const CAPACITY_RETRY_SECONDS = 60;

/** A claim this old whose job has no status was left by a request that died: a retry takes it over. */
export const IDEMPOTENCY_CLAIM_TTL_MS = 60 * 1000;

const createJob = createRoute({
  method: 'post',
  path: '/finetune',
  tags: ['fine-tuning'],
  summary: 'Create a fine-tune job',
  description:
    'Validates the request, records the job and submits it. A retried request with the same `Idempotency-Key` and body returns the same job.',
  request: { headers: IdempotencyHeader, body: { required: true, content: { 'application/json': { schema: FinetuneRequestSchema } } } },
  responses: {
    202: { description: 'Accepted: the job is queued. `Location` is its URL.', content: { 'application/json': { schema: JobSchema } } },
    ...problemResponses(400, 401, 409, 413, 415, 422, 429, 502),
  },
});

const getJob = createRoute({
  method: 'get',
  path: '/finetune/{jobId}',
  tags: ['fine-tuning'],
  summary: 'Retrieve a fine-tune job',
  request: { params: JobIdParam },
  responses: {
    200: {
      description: 'The job: status, progress, metrics, adapter version or error.',
      content: { 'application/json': { schema: JobSchema } },
    },
    ...problemResponses(400, 401, 404),
  },
});

const listJobs = createRoute({
  method: 'get',
  path: '/finetune',
  tags: ['fine-tuning'],
  summary: 'List fine-tune jobs, newest first',
  request: { query: ListJobsQuery },
  responses: {
    200: { description: 'A page of jobs.', content: { 'application/json': { schema: JobListSchema } } },
    ...problemResponses(400, 401),
  },
});

const cancelJob = createRoute({
  method: 'post',
  path: '/finetune/{jobId}/cancel',
  tags: ['fine-tuning'],
  summary: 'Cancel a fine-tune job',
  request: { params: JobIdParam },
  responses: {
    200: { description: 'The job, cancelled.', content: { 'application/json': { schema: JobSchema } } },
    ...problemResponses(400, 401, 404, 409),
  },
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
      if (bucket !== undefined && !allowed.has(bucket))
        invalid.push({ name: field, reason: `bucket "${bucket}" is not one this deployment reads datasets from` });
    }
    if (invalid.length > 0)
      throw new ProblemError(422, 'dataset-not-allowed', 'the dataset must be in a bucket this deployment allows', invalid);
    // A job on a dataset that is not there would only fail later, on a GPU host: say so now.
    for (const field of ['datasetUri', 'validationUri'] as const) {
      const uri = body[field];
      if (uri === undefined) continue;
      const { bucket, key } = s3Location(uri);
      const state = await registry.objectState(bucket, key);
      if (state === 'missing') invalid.push({ name: field, reason: `no object at ${uri} (upload it first: POST /datasets)` });
      if (state === 'forbidden')
        invalid.push({ name: field, reason: `${uri} cannot be read with this deployment's permissions (or does not exist)` });
    }
    if (invalid.length > 0) throw new ProblemError(422, 'dataset-not-found', 'the dataset must exist and be readable', invalid);
    if (!(await registry.models.exists(baseModel))) {
      const bases = (await registry.models.list()).map((m) => m.name);
      const near = closestName(baseModel, bases);
      const reason =
        bases.length === 0
          ? 'the store has no base models yet (add one: trainer upload-base)'
          : `${near ? `did you mean "${near}"? ` : ''}the store's base models: ${bases.join(', ')}`;
      throw new ProblemError(422, 'unknown-base-model', `base model "${baseModel}" is not in the store; ${reason}`, [
        { name: 'baseModel', reason: `no base model "${baseModel}"; ${reason}` },
      ]);
    }
  }

  /**
   * The version of spec.task whose manifest names this job, if one was published: only versions from
   * the job's creation on can be its (version ids start with their UTC time), newest first.
   */
  async function publishedVersion(spec: JobSpec): Promise<string | null> {
    const since = new Date(spec.createdAt).toISOString().replace(/[-:]/g, '').replace('.', '');
    for (const version of await registry.adapters.versions(spec.task)) {
      if (version.slice(0, since.length) < since) break;
      const manifest = await registry.adapters.manifest(spec.task, version).catch(() => null);
      if (manifest?.jobId === spec.jobId) return version;
    }
    return null;
  }

  /**
   * The job as the list and the detail show it: the facts that can change it (shared/job-lifecycle.ts
   * factsToRead), read here, then jobView. `merge`: ask the launcher too (not right after a cancel).
   */
  async function view(jobId: string, merge = true): Promise<Job> {
    const spec = await registry.jobs.spec(jobId);
    const status = await registry.jobs.status(jobId);
    // A sweep's points report beside the job (jobs/<id>/points/<i>/status.json): at most MAX_SWEEP_POINTS small reads.
    const points = isSweep(spec.hyperparameters)
      ? await Promise.all(Array.from({ length: sweepSize(spec.hyperparameters) }, (_, i) => registry.jobs.pointStatus(jobId, i)))
      : [];
    const now = deps.now().toISOString();
    const facts: JobFacts = { spec, status, points, cancel: null, defaultMetric: trainDefaults.metric, now };
    // A job its trainer reported succeeded is final: no cancel can change it.
    if (status?.state !== 'succeeded') facts.cancel = await registry.jobs.cancelRequest(jobId);
    if (merge && factsToRead(facts).launcher) {
      const handle = await registry.jobs.launch<LaunchedJob>(jobId);
      facts.launched = handle !== null;
      if (handle) {
        try {
          facts.launcher = await launcher.describe(handle);
        } catch (err) {
          deps.log({ time: now, level: 'warn', msg: 'launcher describe failed', jobId, error: (err as Error).message });
        }
      }
    }
    if (publicationMatters(facts)) facts.publishedVersion = await publishedVersion(spec);
    const job = jobView(facts);
    // Another process (the local runner's trainer) may have published it: GET /adapters/:task shows it at once.
    if (job.adapterVersion) registry.adapters.sawVersion(spec.task, job.adapterVersion);
    // A failed job's reason comes from the trainer, which may name the local store's files by path.
    return job.error ? { ...job, error: { ...job.error, message: registry.withoutLocalPaths(job.error.message) } } : job;
  }

  // A complete base never changes (its weights are written once): its count is kept once read.
  const parameterCounts = new Map<string, number>();
  /** The base's parameters from its header's shapes (functions/jobs/model-parameters.ts), at least 1. */
  async function modelParameters(name: string): Promise<number> {
    const known = parameterCounts.get(name);
    if (known !== undefined) return known;
    const body = await registry.models.openFile(name, 'model.safetensors');
    const counted = body ? await parametersFromHeader(body) : null;
    const count = Math.max(1, counted ?? Math.ceil((body?.size ?? 0) / 2));
    if (parameterCounts.size >= 256) parameterCounts.clear();
    parameterCounts.set(name, count);
    return count;
  }

  // Who owns each active job (specs are immutable, so once read, always right).
  const owners = new Map<string, string | null>();
  async function ownerOf(jobId: string): Promise<string | null> {
    if (!owners.has(jobId)) owners.set(jobId, (await registry.jobs.spec(jobId).catch(() => null))?.owner ?? null);
    return owners.get(jobId)!;
  }

  /** 429 when the queue is full, or this key has its share of queued and running jobs. */
  async function checkCapacity(owner: string): Promise<void> {
    if (!launcher.activeJobIds) return;
    const active = await launcher.activeJobIds();
    const { maxQueuedJobs, maxJobsPerKey } = deps.jobLimits;
    if (active.length >= maxQueuedJobs) {
      throw new ProblemError(
        429,
        'queue-full',
        `${active.length} jobs are queued or running, the most this deployment takes (ADAPTER_STORE_MAX_QUEUED_JOBS=${maxQueuedJobs}); retry later`,
        [],
        { 'retry-after': String(CAPACITY_RETRY_SECONDS) },
      );
    }
    // Only active jobs' owners are kept: the map stays as small as the queue.
    const activeIds = new Set(active);
    for (const id of owners.keys()) if (!activeIds.has(id)) owners.delete(id);
    const mine = (await Promise.all(active.map(ownerOf))).filter((o) => o === owner).length;
    if (mine >= maxJobsPerKey) {
      throw new ProblemError(
        429,
        'too-many-jobs',
        `this API key has ${mine} jobs queued or running, the most one key may (ADAPTER_STORE_MAX_JOBS_PER_KEY=${maxJobsPerKey}); wait for one to finish or cancel one`,
        [],
        { 'retry-after': String(CAPACITY_RETRY_SECONDS) },
      );
    }
  }

  // Capacity checks and the writes they admit run one request at a time in this process, so two
  // requests cannot both take the last slot. (Across Lambda containers the counts are best effort;
  // Batch's maxvCpus still bounds what runs.)
  let admitting: Promise<unknown> = Promise.resolve();
  function serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = admitting.then(fn, fn);
    admitting = run.catch(() => {});
    return run;
  }

  app.openapi(createJob, async (c) => {
    const body = c.req.valid('json');
    const idempotencyKey = c.req.valid('header')['idempotency-key'];
    const baseModel = body.baseModel ?? deps.defaultBaseModel;
    // The schema holds the environment's label limits; a deployment's own (AppDeps.labelLimits) hold here.
    const labels = body.hyperparameters?.labels;
    const labelProblem = labels && labelListProblem(labels, deps.labelLimits);
    if (labelProblem) {
      const name = `hyperparameters.labels${labelProblem.index < 0 ? '' : `.${labelProblem.index}`}`;
      throw new ProblemError(400, 'validation-error', `invalid request body: ${name}`, [{ name, reason: labelProblem.reason }]);
    }
    await checkPolicy(body, baseModel);
    const hyperparameters = body.hyperparameters ?? {};
    // A sweep's budget is the job's, split evenly over its points; every point runs under the smallest cap.
    const points = sweepPoints(hyperparameters);
    const parameters = await modelParameters(baseModel);
    const budgets = points.map((p) =>
      jobBudget(
        p,
        { parameters, validates: body.validationUri !== undefined || p.validationSplit !== undefined },
        deps.jobLimits.maxJobCost / points.length,
      ),
    );
    const over = budgets.find((b) => !b.ok);
    if (over) {
      const overPoint = points[budgets.indexOf(over)];
      // The field to change: the evaluations when they cost more than the training, else the steps or the batch.
      const evaluating =
        overPoint.evalSteps !== undefined &&
        jobCost(overPoint, 1, { parameters, validates: true }) > 2 * jobCost(overPoint, 1, { parameters, validates: false });
      const field = evaluating
        ? 'hyperparameters.evalSteps'
        : hyperparameters.maxSteps !== undefined
          ? 'hyperparameters.maxSteps'
          : 'hyperparameters.batchSize';
      const limit = deps.jobLimits.maxJobCost;
      const unit = `(seeds x (steps x batch + evaluations x ${MAX_VALIDATION_ROWS} validation rows) x sequence length x ${parameters} parameters)`;
      const detail =
        points.length > 1
          ? `point ${budgets.indexOf(over)} of the sweep would cost ${over.cost.toExponential(3)} ${unit}, over its share ${(limit / points.length).toExponential(3)}: this deployment's ${limit.toExponential(3)} per job (ADAPTER_STORE_MAX_JOB_COST) split evenly over the sweep's ${points.length} points`
          : `the job would cost ${over.cost.toExponential(3)} ${unit}, over this deployment's ${limit.toExponential(3)} per job (ADAPTER_STORE_MAX_JOB_COST)`;
      throw new ProblemError(422, 'over-budget', detail, [
        {
          name: field,
          reason: 'over the per-job compute budget: fewer points, steps, seeds, evaluations, a smaller batch or a shorter maxSeqLen',
        },
      ]);
    }
    const maxSteps = budgets.reduce((m, b) => Math.min(m, b.ok ? b.maxSteps : 0), Infinity);
    const owner = keyOwner(c.req.header('authorization'));

    return serially(async () => {
      const now = deps.now();
      const jobId = newJobId(now);
      if (idempotencyKey !== undefined) {
        const requestSha256 = sha256Hex(canonicalJson({ ...body, baseModel }));
        const existing = await registry.idempotency.claim<IdempotencyRecord>(idempotencyKey, {
          jobId,
          requestSha256,
          createdAt: now.toISOString(),
        });
        if (existing) {
          if (existing.requestSha256 !== requestSha256) {
            throw new ProblemError(409, 'idempotency-key-reused', 'this Idempotency-Key was used with a different request', [
              { name: 'Idempotency-Key', reason: 'already used for another request body' },
            ]);
          }
          if (await registry.jobs.status(existing.jobId)) {
            c.header('location', `/finetune/${existing.jobId}`);
            c.header('idempotent-replayed', 'true');
            return c.json(await view(existing.jobId, true), 202);
          }
          // No job yet: the first request is still at work, or it died between claim and spec. A claim
          // that old is taken over (one winner), and this request creates the job.
          const stale = now.getTime() - Date.parse(existing.createdAt) > IDEMPOTENCY_CLAIM_TTL_MS;
          if (
            !stale ||
            !(await registry.idempotency.replace(idempotencyKey, existing, { jobId, requestSha256, createdAt: now.toISOString() }))
          ) {
            throw new ProblemError(
              409,
              'idempotent-request-in-progress',
              'the first request with this Idempotency-Key is still being processed; retry shortly',
              [],
              { 'retry-after': '1' },
            );
          }
        }
      }

      const spec: JobSpec = {
        format: 'adapter-store.job/v1',
        jobId,
        task: body.task,
        datasetUri: body.datasetUri,
        ...(body.validationUri !== undefined ? { validationUri: body.validationUri } : {}),
        baseModel,
        hyperparameters,
        createdAt: now.toISOString(),
        budget: { maxSteps },
        owner,
      };
      const status = queuedStatus(jobId, now.toISOString());
      try {
        await checkCapacity(owner);
        await registry.jobs.create(spec);
        await registry.jobs.putStatus(status);
        // The log's first page (seq 0), written before the job is submitted so that the trainer's come after it.
        const validationUri = spec.validationUri ?? null;
        await registry.jobs.appendEvents(
          jobId,
          [
            newJobEvent(
              'created',
              `job created for task ${spec.task}`,
              { task: spec.task, baseModel, datasetUri: spec.datasetUri, validationUri },
              now,
            ),
            newJobEvent(
              'dataset-validated',
              'the dataset exists and is readable; its rows are checked when training starts',
              {
                datasetUri: spec.datasetUri,
                validationUri,
              },
              now,
            ),
            newJobEvent('queued', 'the job is queued', {}, now),
          ],
          0,
        );
      } catch (err) {
        if (idempotencyKey !== undefined) await registry.idempotency.release(idempotencyKey);
        throw err;
      }
      owners.set(jobId, owner);
      try {
        await registry.jobs.putLaunch(
          jobId,
          await launcher.submit({ jobId, task: spec.task, ...(points.length > 1 ? { points: points.length } : {}) }),
        );
      } catch (err) {
        const message = `submitting the job failed: ${(err as Error).message}`;
        const at = deps.now();
        await registry.jobs.appendEvents(jobId, [failedEvent(message, at)]);
        await registry.jobs.putStatus(endedStatus(status, { state: 'failed', message }, at.toISOString()));
        throw new ProblemError(502, 'launch-failed', `${message} (job ${jobId} is recorded as failed)`);
      }
      c.header('location', `/finetune/${jobId}`);
      return c.json(jobView({ spec, status, points: [], cancel: null, defaultMetric: trainDefaults.metric, now: now.toISOString() }), 202);
    });
  });

  app.openapi(getJob, async (c) => c.json(await view(c.req.valid('param').jobId, true), 200));

  app.openapi(listJobs, async (c) => {
    const { task, limit, after } = c.req.valid('query');
    // One bounded listing of the job index per page, then each job's spec and status.
    const { ids, hasMore } = await registry.jobs.listIds({ task, limit, after }).catch((err: unknown) => {
      if (after !== undefined && err instanceof RegistryError && err.code === 'not-found') {
        throw new ProblemError(400, 'validation-error', `invalid query: after`, [
          { name: 'after', reason: `no job "${after}" to continue after` },
        ]);
      }
      throw err;
    });
    // Each job as GET /finetune/:jobId shows it (launcher view merged).
    const data = await Promise.all(ids.map((id) => view(id)));
    return c.json({ object: 'list' as const, data, hasMore, nextCursor: hasMore ? data[data.length - 1].jobId : null }, 200);
  });

  app.openapi(cancelJob, async (c) => {
    const { jobId } = c.req.valid('param');
    const current = await view(jobId, true);
    if (current.status === 'cancelled') return c.json(current, 200);
    if (current.status === 'succeeded' || current.status === 'failed') {
      throw new ProblemError(409, 'job-finished', `job ${jobId} already ${current.status}; only queued or running jobs can be cancelled`, [
        { name: 'jobId', reason: `job is ${current.status}` },
      ]);
    }
    // The API never writes status.json here (the trainer owns it): the cancel record decides the view.
    await registry.jobs.requestCancel(jobId, { requestedAt: deps.now().toISOString() });
    // A job that never started has no trainer to record its end: the API does.
    await registry.jobs.appendEvents(jobId, [
      newJobEvent('cancel-requested', 'cancel requested', {}, deps.now()),
      ...(current.status === 'queued'
        ? [newJobEvent('cancelled', 'the job was cancelled before it started', { reason: 'cancelled before it started' }, deps.now())]
        : // A sweep's points stop one by one and none of them owns the job's end: the API records it.
          current.sweep
          ? [newJobEvent('cancelled', 'the sweep was cancelled; its points are stopping', { reason: 'cancelled on request' }, deps.now())]
          : []),
    ]);
    const handle = await registry.jobs.launch<LaunchedJob>(jobId);
    if (handle) await launcher.cancel(handle);
    const after = await view(jobId, false);
    if (after.status === 'succeeded') {
      throw new ProblemError(
        409,
        'job-finished',
        `job ${jobId} succeeded before the cancel took effect; its adapter version ${after.adapterVersion} is published`,
        [{ name: 'jobId', reason: 'job is succeeded' }],
      );
    }
    return c.json(after, 200);
  });
}
