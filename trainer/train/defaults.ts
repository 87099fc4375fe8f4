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
>;

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
};
