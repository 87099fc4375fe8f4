/**
 * Spend controls for POST /finetune: how many jobs may wait or run at once (all keys together, and per
 * key), and how much compute one job may ask for. A job's cost is seeds x steps x batch size x model
 * parameters (parameters ~ weights bytes / 4): it is checked at submission against maxJobCost, and a
 * job that names no maxSteps gets the step cap that fits the budget (spec.budget.maxSteps, which
 * run-job enforces), since its dataset's row count is not known before it is read.
 */
import { createHash } from 'node:crypto';
import type { Hyperparameters } from '../../shared/job.ts';
import { trainDefaults } from '../../trainer/train/defaults.ts';

export interface JobLimits {
  /** Jobs queued or running at once, all keys together; beyond: 429. */
  maxQueuedJobs: number;
  /** Jobs queued or running at once per API key; beyond: 429. */
  maxJobsPerKey: number;
  /** The largest seeds x steps x batch size x parameters one job may ask for; beyond: 422. */
  maxJobCost: number;
}

export const DEFAULT_JOB_LIMITS: Readonly<JobLimits> = { maxQueuedJobs: 50, maxJobsPerKey: 5, maxJobCost: 1e15 };

/** ADAPTER_STORE_MAX_QUEUED_JOBS, ADAPTER_STORE_MAX_JOBS_PER_KEY, ADAPTER_STORE_MAX_JOB_COST (positive numbers). */
export function jobLimitsFromEnv(env: NodeJS.ProcessEnv): JobLimits {
  const read = (name: string, fallback: number, integer: boolean): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
      throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
    return n;
  };
  return {
    maxQueuedJobs: read('ADAPTER_STORE_MAX_QUEUED_JOBS', DEFAULT_JOB_LIMITS.maxQueuedJobs, true),
    maxJobsPerKey: read('ADAPTER_STORE_MAX_JOBS_PER_KEY', DEFAULT_JOB_LIMITS.maxJobsPerKey, true),
    maxJobCost: read('ADAPTER_STORE_MAX_JOB_COST', DEFAULT_JOB_LIMITS.maxJobCost, false),
  };
}

/** Who a request is: the first 16 hex digits of its bearer key's sha256 (the key itself is never stored). */
export function keyOwner(authorization: string | undefined): string {
  const key = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? '';
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 16);
}

export type Budget = { ok: true; maxSteps: number; cost: number } | { ok: false; cost: number };

/**
 * The step cap a job runs under: its own maxSteps when that fits the budget, else (none given) the
 * most steps the budget allows. Not ok when its own maxSteps, or even one step, costs more.
 */
export function jobBudget(h: Hyperparameters, parameters: number, maxJobCost: number): Budget {
  const seeds = (h.seeds ?? trainDefaults.seeds).length;
  const perStep = seeds * (h.batchSize ?? trainDefaults.batchSize) * parameters;
  if (h.maxSteps !== undefined) {
    const cost = perStep * h.maxSteps;
    return cost <= maxJobCost ? { ok: true, maxSteps: h.maxSteps, cost } : { ok: false, cost };
  }
  const maxSteps = Math.floor(maxJobCost / perStep);
  return maxSteps >= 1 ? { ok: true, maxSteps, cost: perStep * maxSteps } : { ok: false, cost: perStep };
}
