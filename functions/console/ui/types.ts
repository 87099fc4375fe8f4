/** The API's answers as the console reads them (functions/schemas.ts has the full schemas). */

import type { JobEventLevel, JobState, ScoreMetric, SelectionMetric } from '../../../shared/vocabulary.ts';

export interface List<T> {
  object: 'list';
  data: T[];
  hasMore: boolean;
  nextCursor?: string | null;
}

export interface Metrics {
  loss: number;
  accuracy: number;
  macroF1: number;
  mcc: number;
  examples?: number;
}

export interface Job {
  jobId: string;
  status: JobState;
  task: string;
  baseModel: string;
  datasetUri: string;
  hyperparameters: Record<string, unknown>;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  progress: { step: number; totalSteps: number; epoch: number; fraction: number };
  loss: number | null;
  metrics: Metrics | null;
  adapterVersion: string | null;
  error: { message: string } | null;
  /** A sweep's points (absent from APIs without sweeps). */
  sweep?: Sweep | null;
  /** The guardrail: set when the published adapter does not beat the majority class (absent from older APIs). */
  belowMajority?: BelowMajority | null;
  /** Why a queued job has not started, when the launcher says (GET /finetune/:id `waiting`). */
  waiting?: { reason: string } | null;
}

/** shared/majority-baseline.ts BelowMajority. */
export interface BelowMajority {
  metric: ScoreMetric;
  score: number;
  majorityScore: number;
  majorityLabel: string;
  majorityRate: number;
  message: string;
}

export interface SweepPoint {
  point: number;
  settings: Record<string, unknown>;
  status: Job['status'];
  progress: { step: number; totalSteps: number; fraction: number };
  score: number | null;
  metrics: Metrics | null;
  error: { message: string } | null;
}

export interface Sweep {
  metric: string;
  bestPoint: number | null;
  points: SweepPoint[];
}

export interface AdapterSummary {
  task: string;
  latestVersion: string;
  createdAt: string;
  baseModel: string;
  mode: string;
  labels: string[];
}

export interface Manifest {
  task: string;
  version: string;
  createdAt: string;
  jobId: string | null;
  baseModel: { name: string; weightsSha256: string };
  mode: string;
  labels: string[];
  files: { name: string; bytes: number; sha256: string }[];
  parameters: { trainable: number; total: number };
  metrics: Omit<Metrics, 'examples'> | null;
  belowMajority?: BelowMajority;
}

export interface AdapterDetail {
  task: string;
  latestVersion: string;
  versions: string[];
  manifest: Manifest;
}

/** metrics.json as the trainer writes it (trainer/train/trainer.ts TrainMetrics); every field optional. */
export interface TrainMetricsFile {
  steps?: { step: number; loss: number; lr: number }[];
  validation?: ({ step: number } & Metrics)[];
  /** The selection metric, and the selected checkpoint's evaluation. */
  metric?: SelectionMetric;
  best?: ({ step: number } & Metrics) | null;
  examplesPerSecond?: number;
  trainExamples?: number;
  validationExamples?: number;
  selectedSeed?: number;
}

/** One event of GET /finetune/:jobId/events. */
export interface JobEvent {
  id: string;
  createdAt: string;
  level: JobEventLevel;
  type: string;
  message: string;
  data: Record<string, unknown>;
}

export interface Dataset {
  datasetUri: string;
  name: string;
  bytes: number;
  rows: number;
  format: string;
  labels: Record<string, number>;
}

export interface Prediction {
  label: string;
  probs: Record<string, number>;
}

/** One base of GET /models. */
export interface BaseModel {
  name: string;
  default: boolean;
  weightsBytes: number;
  layers: number | null;
  hiddenSize: number | null;
}
