/**
 * A fine-tune job as the API writes it (`jobs/<id>/spec.json`) and as the trainer reports it
 * (`jobs/<id>/status.json`). Both sides import these types; the JSON files are their contract.
 */
import type { z } from '@hono/zod-openapi';
import type { HyperparametersSchema } from './job-schema.ts';
import type { BelowMajority } from './majority-baseline.ts';
import type { SweepHyperparameters } from './sweep.ts';
import type { JobState } from './vocabulary.ts';

export type { JobState } from './vocabulary.ts';

/**
 * Training options a job may set; anything absent takes the trainer's default. The type is its schema's
 * (job-schema.ts): the fields, their bounds and their descriptions are written once, there.
 */
export type Hyperparameters = z.infer<typeof HyperparametersSchema>;

export interface JobSpec {
  format: 'adapter-store.job/v1';
  jobId: string;
  task: string;
  datasetUri: string;
  validationUri?: string;
  /** Name of a base model under `models/<name>/` in the registry. */
  baseModel: string;
  /** A list of values for a sweep key makes the job a sweep over the grid they span (shared/sweep.ts). */
  hyperparameters: SweepHyperparameters;
  createdAt: string;
  /** The step cap the deployment's compute budget allows (functions/jobs/spend.ts); run-job enforces it. */
  budget?: { maxSteps: number };
  /** Who submitted it: the first 16 hex digits of the API key's sha256 (never the key), for per-key limits. */
  owner?: string;
}

export interface JobMetrics {
  loss: number;
  accuracy: number;
  macroF1: number;
  mcc: number;
  examples: number;
}

export interface JobStatus {
  format: 'adapter-store.job-status/v1';
  jobId: string;
  state: JobState;
  step: number;
  totalSteps: number;
  epoch: number;
  /** Latest training loss. */
  loss: number | null;
  /** Latest validation metrics, when there is validation data. */
  validation: JobMetrics | null;
  /** The published adapter version once the job succeeded. */
  adapterVersion?: string;
  error?: { message: string };
  startedAt?: string;
  finishedAt?: string;
  updatedAt: string;
  /** A sweep's outcome, once its points are reduced: the point published (null when none finished). */
  sweep?: { bestPoint: number | null };
  /** The guardrail: the published adapter does not beat the majority-class predictor on validation. */
  belowMajority?: BelowMajority;
}

/**
 * One point of a sweep as the run that trains it reports it (jobs/<id>/points/<i>/status.json): the same
 * progress fields as a job, what sets the point apart, and, once trained, its score per seed.
 */
export interface PointStatus extends Omit<JobStatus, 'format' | 'sweep' | 'adapterVersion'> {
  format: 'adapter-store.point-status/v1';
  point: number;
  /** The swept keys' values at this point, e.g. {"lr": 0.001, "bottleneck": 64}. */
  settings: Partial<Hyperparameters>;
  /** Once trained: each seed's selection metric at its best evaluation (null: no evaluation). */
  seeds?: { seed: number; score: number | null }[];
  /** Mean over the seeds: the point's score for selection (null when a seed has none). */
  score?: number | null;
  /** The best seed's best evaluation: the metrics published if this point wins. */
  best?: JobMetrics | null;
  trainablePercent?: number;
}

/** The status of a job recorded but not yet started: where POST /finetune leaves it. */
export function queuedStatus(jobId: string, updatedAt: string): JobStatus {
  return {
    format: 'adapter-store.job-status/v1',
    jobId,
    state: 'queued',
    step: 0,
    totalSteps: 0,
    epoch: 0,
    loss: null,
    validation: null,
    updatedAt,
  };
}
