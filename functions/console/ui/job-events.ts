/**
 * What the job page draws from GET /finetune/:jobId/events: the loss points of `metrics` events and the
 * validation scores of `evaluation` events (one curve each: the seed of the newest event, as the trainer
 * runs seeds one after another). Pure (no DOM).
 */
import type { Point } from './chart-geometry.ts';

export interface EventLike {
  type: string;
  data?: Record<string, unknown>;
}

export function lossPoints(events: readonly EventLike[]): Point[] {
  const metrics = events.filter((e) => e.type === 'metrics' && typeof e.data?.step === 'number' && typeof e.data?.loss === 'number');
  const seed = metrics.at(-1)?.data?.seed;
  return metrics.filter((e) => e.data?.seed === seed).map((e) => ({ x: e.data!.step as number, y: e.data!.loss as number }));
}

/** The selection metric's value at each evaluation (`evaluation` events of the newest seed), and which metric it is. */
export function validationPoints(events: readonly EventLike[]): { metric: string | null; points: Point[] } {
  const evals = events.filter((e) => e.type === 'evaluation' && typeof e.data?.step === 'number' && typeof e.data?.score === 'number');
  const seed = evals.at(-1)?.data?.seed;
  const mine = evals.filter((e) => e.data?.seed === seed);
  const metric = mine.at(-1)?.data?.metric;
  return {
    metric: typeof metric === 'string' ? metric : null,
    points: mine.map((e) => ({ x: e.data!.step as number, y: e.data!.score as number })),
  };
}

/** A metrics.json validation record's value on the selection metric. */
export function metricOf(m: { accuracy: number; macroF1?: number; mcc?: number; loss: number }, metric: string): number | undefined {
  return metric === 'f1' ? m.macroF1 : metric === 'mcc' ? m.mcc : metric === 'loss' ? m.loss : m.accuracy;
}
