/** Default training options, shared by the CLI's `train` and by `run-job` (job specs override them). */
import type { TrainOptions } from './trainer.ts';

type Defaults = Pick<
  TrainOptions,
  | 'mode'
  | 'bottleneck'
  | 'nonlinearity'
  | 'initStd'
  | 'optimizer'
  | 'lr'
  | 'weightDecay'
  | 'batchSize'
  | 'epochs'
  | 'schedule'
  | 'warmupRatio'
  | 'maxGradNorm'
  | 'dropout'
  | 'seeds'
  | 'shuffle'
  | 'bucketing'
  | 'evalSteps'
  | 'metric'
  | 'earlyStoppingPatience'
  | 'checkpointEvery'
  | 'resume'
  | 'maxValidationRows'
>;

/** Tokens per text row unless --max-seq-len says otherwise (and the base allows no fewer). */
export const DEFAULT_MAX_SEQ_LEN = 128;

/**
 * Validation rows a job evaluates at most (each evaluation reads them all; the job budget counts them):
 * a larger validation file is refused, a validation split holds out no more.
 */
export const MAX_VALIDATION_ROWS = 10_000;

export const trainDefaults: Readonly<Defaults> = {
  mode: 'adapter',
  bottleneck: 64,
  nonlinearity: 'gelu',
  initStd: 1e-3,
  optimizer: 'adamw',
  lr: 1e-4,
  weightDecay: 0.01,
  batchSize: 32,
  epochs: 3,
  schedule: 'linear',
  warmupRatio: 0.1,
  maxGradNorm: 1.0,
  dropout: 0.1,
  seeds: [42],
  shuffle: true,
  bucketing: true,
  evalSteps: 0,
  metric: 'accuracy',
  earlyStoppingPatience: 0,
  checkpointEvery: 0,
  resume: false,
  maxValidationRows: MAX_VALIDATION_ROWS,
};
