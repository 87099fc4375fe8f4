/**
 * What the job page draws from GET /finetune/:jobId/events: the loss points of `metrics` events (one
 * curve: the seed of the newest event, as the trainer runs seeds one after another). Pure (no DOM).
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

export const TERMINAL = ['succeeded', 'failed', 'cancelled'];
