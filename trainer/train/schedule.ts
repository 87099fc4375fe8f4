/** Learning-rate schedules with linear warm-up (Hugging Face get_linear/constant_schedule_with_warmup). */

export interface ScheduleOptions {
  base: number;
  totalSteps: number;
  warmupSteps: number;
  kind: 'linear' | 'constant';
}

export function warmupStepsFor(ratio: number, totalSteps: number): number {
  return Math.ceil(ratio * totalSteps);
}

/** The learning rate of 0-based step `step` (the step about to run). */
export function learningRateAt(step: number, o: ScheduleOptions): number {
  if (step < o.warmupSteps) return (o.base * step) / Math.max(1, o.warmupSteps);
  if (o.kind === 'constant') return o.base;
  return o.base * Math.max(0, (o.totalSteps - step) / Math.max(1, o.totalSteps - o.warmupSteps));
}
