/**
 * Spend controls for POST /finetune: how many jobs may wait or run at once (all keys together, and per
 * key), and how much compute one job may ask for. A job's cost counts what it computes, in
 * token x parameter units (README: the budget table):
 *
 *   seeds x (steps x batch size + evaluations x validation rows) x sequence length x parameters
 *
 * where parameters are counted from the shapes in the base's safetensors header (not its bytes: an F16
 * base has as many as an F32 one), the sequence length is maxSeqLen (default 128), evaluations are
 * floor(steps / evalSteps) + one per epoch reached (none without validation data), and validation rows
 * are the most a job evaluates (MAX_VALIDATION_ROWS: the trainer refuses a larger validation file and
 * holds out no more by validationSplit), since the file's rows are not known before it is read. The
 * cost is checked at submission against maxJobCost, and a job that names no maxSteps gets the step cap
 * that fits the budget (spec.budget.maxSteps, which run-job enforces).
 */
import { createHash } from 'node:crypto';
import { type Env, integer, number } from '../../shared/env.ts';
import type { Hyperparameters } from '../../shared/job.ts';
import { DEFAULT_MAX_SEQ_LEN, MAX_VALIDATION_ROWS, trainDefaults } from '../../trainer/train/defaults.ts';

export interface JobLimits {
  /** Jobs queued or running at once, all keys together; beyond: 429. */
  maxQueuedJobs: number;
  /** Jobs queued or running at once per API key; beyond: 429. */
  maxJobsPerKey: number;
  /** The largest cost (jobCost: token x parameter units) one job may ask for; beyond: 422. */
  maxJobCost: number;
}

/** 1e17: about 200,000 steps of batch 32 at 128 tokens on BERT-base (110 M parameters). */
export const DEFAULT_JOB_LIMITS: Readonly<JobLimits> = { maxQueuedJobs: 50, maxJobsPerKey: 5, maxJobCost: 1e17 };

/** ADAPTER_STORE_MAX_QUEUED_JOBS, ADAPTER_STORE_MAX_JOBS_PER_KEY, ADAPTER_STORE_MAX_JOB_COST (positive numbers). */
export function jobLimitsFromEnv(env: Env): JobLimits {
  return {
    maxQueuedJobs: integer(env, 'ADAPTER_STORE_MAX_QUEUED_JOBS', { min: 1 }, DEFAULT_JOB_LIMITS.maxQueuedJobs),
    maxJobsPerKey: integer(env, 'ADAPTER_STORE_MAX_JOBS_PER_KEY', { min: 1 }, DEFAULT_JOB_LIMITS.maxJobsPerKey),
    maxJobCost: number(env, 'ADAPTER_STORE_MAX_JOB_COST', { min: 0, exclusiveMin: true }, DEFAULT_JOB_LIMITS.maxJobCost),
  };
}

/** Who a request is: the first 16 hex digits of its bearer key's sha256 (the key itself is never stored). */
export function keyOwner(authorization: string | undefined): string {
  const key = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? '';
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 16);
}

export type Budget = { ok: true; maxSteps: number; cost: number } | { ok: false; cost: number };

/** What the budget knows of a job beyond its hyperparameters. */
export interface JobShape {
  /** The base's parameter count (from the shapes in its safetensors header). */
  parameters: number;
  /** Whether it evaluates on validation data (validationUri or validationSplit). */
  validates: boolean;
}

/** The most steps any job runs (the schema's maxSteps bound). */
const MAX_STEPS = 10_000_000;

/** Evaluations in `steps` steps at most: every evalSteps, and at the end of each epoch reached. */
export function evaluationsIn(h: Hyperparameters, steps: number): number {
  const every = h.evalSteps ?? trainDefaults.evalSteps;
  return (every > 0 ? Math.floor(steps / every) : 0) + Math.min(h.epochs ?? trainDefaults.epochs, steps);
}

/** The cost of `steps` steps (the formula above); evaluations only when the job validates. */
export function jobCost(h: Hyperparameters, steps: number, job: JobShape): number {
  const seeds = (h.seeds ?? trainDefaults.seeds).length;
  const rows = steps * (h.batchSize ?? trainDefaults.batchSize) + (job.validates ? evaluationsIn(h, steps) * MAX_VALIDATION_ROWS : 0);
  return seeds * rows * (h.maxSeqLen ?? DEFAULT_MAX_SEQ_LEN) * job.parameters;
}

/**
 * The step cap a job runs under: its own maxSteps when that fits the budget, else (none given) the
 * most steps the budget allows. Not ok when its own maxSteps, or even one step, costs more.
 */
export function jobBudget(h: Hyperparameters, job: JobShape, maxJobCost: number): Budget {
  if (h.maxSteps !== undefined) {
    const cost = jobCost(h, h.maxSteps, job);
    return cost <= maxJobCost ? { ok: true, maxSteps: h.maxSteps, cost } : { ok: false, cost };
  }
  if (jobCost(h, 1, job) > maxJobCost) return { ok: false, cost: jobCost(h, 1, job) };
  // The cost grows with the steps (not linearly: evaluations come in steps): the largest that fits.
  let fits = 1;
  let over = MAX_STEPS + 1;
  while (over - fits > 1) {
    const mid = Math.floor((fits + over) / 2);
    if (jobCost(h, mid, job) <= maxJobCost) fits = mid;
    else over = mid;
  }
  return { ok: true, maxSteps: fits, cost: jobCost(h, fits, job) };
}
