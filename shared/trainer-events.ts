/**
 * What a training run reports, one event at a time: the trainer emits them, the CLI prints them (a
 * progress bar or JSON lines), run-job turns them into status.json, and an events API can publish them
 * as they are. `event` names the kind; consumers switch on it.
 */

import type { JobMetrics } from './job.ts';
import type { BelowMajority } from './majority-baseline.ts';
import type { SkippedRow } from './training-data/dataset.ts';
import type { SelectionMetric, TrainMode } from './vocabulary.ts';

/** The validation metric that picks the best checkpoint and seed (its list: vocabulary.ts). */
export type { SelectionMetric };

/** Validation metrics at a step (the best checkpoint's, in `seed-done` and `done`). */
export type EvalRecord = JobMetrics & { step: number; epoch: number };

/** Bad rows skipped under --max-bad-rows: counts, and the first few reasons. */
export interface SkippedRowsEvent {
  event: 'skipped-rows';
  train: number;
  validation: number;
  first: SkippedRow[];
}

/** A resumable state was found but its tensors file is not the one it was written with; training starts over. */
export interface CheckpointIgnoredEvent {
  event: 'checkpoint-ignored';
  reason: string;
}

export interface ResumeEvent {
  event: 'resume';
  from: string;
  seed: number;
  step: number;
}

export interface StartEvent {
  event: 'start';
  task: string;
  mode: TrainMode;
  examples: number;
  validationExamples: number;
  labels: string[];
  totalSteps: number;
  seeds: number[];
  /** Parameter counts. */
  trainable: number;
  total: number;
}

export interface StepEvent {
  event: 'step';
  seed: number;
  step: number;
  totalSteps: number;
  epoch: number;
  epochs: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Rows in this step's batch, and the step's wall time. */
  examples: number;
  seconds: number;
}

export interface ValidationEvent extends JobMetrics {
  event: 'validation';
  seed: number;
  step: number;
  epoch: number;
  /** The selection metric and its value here; `improved` when it beat the seed's best so far. */
  metric: SelectionMetric;
  score: number;
  improved: boolean;
}

/** A resumable state was written (the trainer's onCheckpoint hook has run). */
export interface CheckpointEvent {
  event: 'checkpoint';
  dir: string;
  step: number;
}

export interface EarlyStopEvent {
  event: 'early-stop';
  seed: number;
  step: number;
  epoch: number;
  patience: number;
}

export interface SeedDoneEvent {
  event: 'seed-done';
  seed: number;
  best: EvalRecord | null;
  stoppedEarly: boolean;
}

export interface DoneEvent {
  event: 'done';
  out: string;
  selectedSeed: number;
  best: EvalRecord | null;
  examplesPerSecond: number;
  peakRssMb: number;
}

/** The selected checkpoint does not beat always answering the majority label (shared/majority-baseline.ts); just before `done`. */
export interface BelowMajorityEvent extends BelowMajority {
  event: 'below-majority';
}

export type TrainerEvent =
  | BelowMajorityEvent
  | SkippedRowsEvent
  | CheckpointIgnoredEvent
  | ResumeEvent
  | StartEvent
  | StepEvent
  | ValidationEvent
  | CheckpointEvent
  | EarlyStopEvent
  | SeedDoneEvent
  | DoneEvent;

/** `trainer pretrain`: the corpus packed into sequences. */
export interface CorpusEvent {
  event: 'corpus';
  documents: number;
  tokens: number;
  sequences: number;
  seqLen: number;
  skippedRows: number;
  seconds: number;
}

/** `trainer pretrain --init`: tensors the base lacked (e.g. the MLM head) start fresh. */
export interface PretrainInitEvent {
  event: 'init';
  from: string;
  freshTensors: string[];
}

export interface PretrainStartEvent {
  event: 'start';
  layers: number;
  hidden: number;
  parameters: number;
  sequences: number;
  tokensPerStep: number;
  /** Null under --max-minutes (the steps event estimates it). */
  totalSteps: number | null;
  maxMinutes: number | null;
}

export interface PretrainStepEvent {
  event: 'step';
  seed: number;
  step: number;
  /** Exact under --max-steps/--max-tokens; estimated from the time budget under --max-minutes. */
  totalSteps: number;
  /** Passes over the packed corpus, counting from 1. */
  epoch: number;
  /** Masked-LM loss and masked-token accuracy of this step. */
  loss: number;
  accuracy: number;
  lr: number;
  gradNorm: number;
  /** Sequences in this step, tokens seen so far, and the step's wall time. */
  examples: number;
  tokens: number;
  seconds: number;
}

export interface PretrainDoneEvent {
  event: 'done';
  out: string;
  steps: number;
  tokensSeen: number;
  /** Averaged over the last steps (see the model card). */
  finalLoss: number;
  finalAccuracy: number;
  tokensPerSecond: number;
}

/** `trainer pretrain`: the budget ends before the learning-rate warm-up does (the peak rate is never reached). */
export interface PretrainWarmupWarningEvent {
  event: 'warmup-warning';
  message: string;
  warmupSteps: number;
  /** Steps the budget allows; estimated from measured step time under --max-minutes. */
  budgetSteps: number;
  estimated: boolean;
  peakLr: number;
  /** The highest learning rate the run reaches. */
  reachedLr: number;
}

/** What `trainer pretrain` reports (masked-LM pretraining). */
export type PretrainEvent =
  | CorpusEvent
  | PretrainWarmupWarningEvent
  | PretrainInitEvent
  | CheckpointIgnoredEvent
  | ResumeEvent
  | PretrainStartEvent
  | PretrainStepEvent
  | CheckpointEvent
  | PretrainDoneEvent;

/** What `trainer run-job` adds around a run: restoring and uploading checkpoints, writing status.json. */
export type RunJobEvent =
  | { event: 'checkpoint-restored' }
  | { event: 'checkpoint-upload-failed'; error: string }
  | { event: 'status-write-failed'; error: string }
  | { event: 'events-write-failed'; error: string };

/** A job's log: the trainer's events and run-job's own, each tagged with the job id. */
export type JobEvent = (TrainerEvent | RunJobEvent) & { job: string };

export type TrainerEventKind = TrainerEvent['event'];
