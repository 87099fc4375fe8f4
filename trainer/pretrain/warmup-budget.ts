/**
 * Whether the learning-rate warm-up ends inside the run's budget. A warm-up longer than the run never
 * reaches the peak rate (a 1-minute run with --warmup-steps 150 never passed 6e-5 of its 5e-4 peak): the
 * run is mostly wasted, so pretrain warns with the figures as soon as it knows them (at the start for a
 * step or token budget, after a few measured steps for a time budget).
 */
import type { PretrainWarmupWarningEvent } from '../../shared/trainer-events.ts';

/** Steps measured (after the first, which pays for the session's warm-up) before a time budget is judged. */
export const MEASURED_STEPS = 3;

/** 6e-5, 1.2e-4: two significant digits, as a rate is written. */
const short = (x: number): string => Number(x.toPrecision(2)).toExponential();

export interface WarmupBudget {
  warmupSteps: number;
  /** Peak learning rate (--lr). */
  lr: number;
  /** Steps the budget allows: exact for --max-steps / --max-tokens, estimated for --max-minutes. */
  budgetSteps: number;
  /** For a time budget: the budget and the measured time a step takes. */
  time?: { maxMinutes: number; secondsPerStep: number };
}

/** The warning, or null when the warm-up ends (the step at the peak rate runs) inside the budget. */
export function warmupWarning(b: WarmupBudget): PretrainWarmupWarningEvent | null {
  if (b.warmupSteps === 0 || b.budgetSteps > b.warmupSteps) return null;
  // Step i (from 0) runs at lr · i / warmupSteps during warm-up: the last step of the budget is the highest.
  const reachedLr = b.lr * (Math.max(0, b.budgetSteps - 1) / b.warmupSteps); // as learningRateAt computes it
  const budget = b.time
    ? `--max-minutes ${b.time.maxMinutes} allows about ${b.budgetSteps} steps (measured ${b.time.secondsPerStep.toPrecision(3)} s a step)`
    : `the budget is ${b.budgetSteps} steps`;
  const suggested = Math.max(1, Math.floor(b.budgetSteps / 10));
  return {
    event: 'warmup-warning',
    message:
      `the warm-up does not end inside the budget: --warmup-steps ${b.warmupSteps}, but ${budget}; ` +
      `the learning rate only climbs to ${short(reachedLr)} of its ${short(b.lr)} peak (--lr). ` +
      `Give fewer warm-up steps (e.g. --warmup-steps ${suggested}, a tenth of the run) or a larger budget.`,
    warmupSteps: b.warmupSteps,
    budgetSteps: b.budgetSteps,
    estimated: b.time !== undefined,
    peakLr: b.lr,
    reachedLr,
  };
}
