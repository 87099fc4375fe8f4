/**
 * Learning-rate schedules with linear warm-up, as Hugging Face's get_linear_schedule_with_warmup and
 * get_constant_schedule_with_warmup (LambdaLR: lr = base · lambda(step), same float operations).
 */

import type { LrSchedule } from '../../shared/vocabulary.ts';

export interface ScheduleOptions {
  base: number;
  totalSteps: number;
  warmupSteps: number;
  kind: LrSchedule;
}

/** Warm-up steps from a ratio, as HF TrainingArguments.get_warmup_steps: ceil(totalSteps · ratio). */
export function warmupStepsFor(ratio: number, totalSteps: number): number {
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`warm-up ratio must be in [0, 1], got ${ratio}`);
  if (!Number.isInteger(totalSteps) || totalSteps < 0) throw new RangeError(`total steps must be an integer >= 0, got ${totalSteps}`);
  return Math.ceil(totalSteps * ratio);
}

/** HF's lr_lambda: step / warmup during warm-up, then (total − step) / (total − warmup) floored at 0, or 1. */
function factor(step: number, o: ScheduleOptions): number {
  if (step < o.warmupSteps) return step / Math.max(1, o.warmupSteps);
  if (o.kind === 'constant') return 1;
  return Math.max(0, (o.totalSteps - step) / Math.max(1, o.totalSteps - o.warmupSteps));
}

/** The learning rate of 0-based step `step` (the step about to run). */
export function learningRateAt(step: number, o: ScheduleOptions): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`schedule step must be an integer >= 0, got ${step}`);
  return o.base * factor(step, o);
}
