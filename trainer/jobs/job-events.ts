/**
 * What of the trainer's event stream goes into the job's event log (shared/job-events.ts): every
 * event but the steps, and for steps a `metrics` event every `metricsEvery` steps (and at each seed's
 * first and last step) with the mean loss and the throughput over the steps since the previous one.
 */
import { type JobEventRecord, type NewJobEvent, newJobEvent } from '../../shared/job-events.ts';
import type { RunJobEvent, TrainerEvent } from '../../shared/trainer-events.ts';

type Validation = Extract<JobEventRecord, { type: 'evaluation' }>['data'];

export class TrainerEventMapper {
  private seed = 0;
  private window = { steps: 0, loss: 0, examples: 0, seconds: 0 };
  private lastLoss: number | null = null;
  private lastValidation: Omit<Validation, 'seed' | 'step' | 'epoch' | 'metric' | 'score' | 'improved'> | null = null;

  constructor(private readonly metricsEvery = 10) {}

  map(event: TrainerEvent | RunJobEvent): NewJobEvent[] {
    switch (event.event) {
      case 'start':
        return [
          newJobEvent('training-started', `training ${event.examples} examples for ${event.totalSteps} steps per seed`, {
            examples: event.examples,
            validationExamples: event.validationExamples,
            labels: event.labels,
            totalSteps: event.totalSteps,
            seeds: event.seeds,
            mode: event.mode,
            trainableParameters: event.trainable,
            totalParameters: event.total,
          }),
        ];
      case 'skipped-rows':
        return [
          newJobEvent('rows-skipped', `skipped ${event.train} training and ${event.validation} validation rows`, {
            train: event.train,
            validation: event.validation,
            first: event.first,
          }),
        ];
      case 'resume':
        this.seed = event.seed;
        return [newJobEvent('resumed', `resumed from the checkpoint at step ${event.step}`, { seed: event.seed, step: event.step })];
      case 'step': {
        if (event.seed !== this.seed) this.window = { steps: 0, loss: 0, examples: 0, seconds: 0 };
        this.seed = event.seed;
        const w = this.window;
        w.steps++;
        w.loss += event.loss;
        w.examples += event.examples;
        w.seconds += event.seconds;
        if (event.step % this.metricsEvery !== 0 && event.step !== 1 && event.step !== event.totalSteps) return [];
        const loss = w.loss / w.steps;
        this.lastLoss = loss;
        this.window = { steps: 0, loss: 0, examples: 0, seconds: 0 };
        return [
          newJobEvent('metrics', `step ${event.step}/${event.totalSteps}: loss ${loss.toFixed(4)}`, {
            seed: event.seed,
            step: event.step,
            totalSteps: event.totalSteps,
            epoch: event.epoch,
            loss,
            lr: event.lr,
            gradNorm: event.gradNorm,
            examplesPerSecond: w.seconds > 0 ? w.examples / w.seconds : 0,
            steps: w.steps,
          }),
        ];
      }
      case 'validation': {
        const { loss, accuracy, macroF1, mcc, examples } = event;
        this.lastValidation = { loss, accuracy, macroF1, mcc, examples };
        return [
          newJobEvent('evaluation', `step ${event.step}: validation ${event.metric} ${event.score.toFixed(4)}`, {
            ...this.lastValidation,
            seed: event.seed,
            step: event.step,
            epoch: event.epoch,
            metric: event.metric,
            score: event.score,
            improved: event.improved,
          }),
        ];
      }
      // The trainer has written the checkpoint locally: `checkpointSaved` records it once it is in the registry.
      case 'checkpoint':
        return [];
      case 'early-stop':
        return [
          newJobEvent('early-stopped', `seed ${event.seed} stopped early at step ${event.step}`, {
            seed: event.seed,
            step: event.step,
            epoch: event.epoch,
            patience: event.patience,
          }),
        ];
      case 'seed-done':
        return [
          newJobEvent('seed-finished', `seed ${event.seed} finished`, {
            seed: event.seed,
            best: event.best,
            stoppedEarly: event.stoppedEarly,
          }),
        ];
      case 'done':
        return [
          newJobEvent('training-finished', `training finished; seed ${event.selectedSeed} selected`, {
            selectedSeed: event.selectedSeed,
            best: event.best,
            examplesPerSecond: event.examplesPerSecond,
            peakRssMb: event.peakRssMb,
          }),
        ];
      case 'checkpoint-ignored':
        return [newJobEvent('warning', `the stored checkpoint was ignored: ${event.reason}`, { reason: event.reason })];
      case 'checkpoint-upload-failed':
        return [newJobEvent('warning', `a checkpoint upload failed: ${event.error}`, { reason: event.error })];
      // run-job records it when it publishes (for the adapter published, a sweep's winner included).
      case 'below-majority':
      case 'checkpoint-restored':
      case 'status-write-failed':
      case 'events-write-failed':
        return [];
    }
  }

  /** A checkpoint now in the registry: the step, and the latest metrics before it. */
  checkpointSaved(step: number): NewJobEvent {
    return newJobEvent('checkpoint-saved', `checkpoint saved at step ${step}`, {
      seed: this.seed,
      step,
      trainLoss: this.lastLoss,
      validation: this.lastValidation,
    });
  }
}
