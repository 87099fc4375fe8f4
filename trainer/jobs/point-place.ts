/** Where one point of a sweep reports (job-reporter.ts ReportPlace), and the event of its end. */
import type { Hyperparameters } from '../../shared/job.ts';
import { type NewJobEvent, newJobEvent } from '../../shared/job-events.ts';
import { pointLabel } from '../../shared/sweep.ts';
import type { ReportPlace } from './job-reporter.ts';

/** One point of a sweep. Its cancel and its return to the queue are the sweep's to log, not the point's. */
export function pointPlace(point: number, settings: Partial<Hyperparameters>): ReportPlace {
  return {
    point,
    logsTraining: false,
    write: (registry, { format: _f, adapterVersion: _v, sweep: _s, ...fields }) =>
      registry.jobs.putPointStatus({ ...fields, format: 'adapter-store.point-status/v1', point, settings }),
    started: () => newJobEvent('point-started', `${describePoint(point, settings)} started`, { point, settings }),
    ended: (end) => (end.state === 'failed' ? pointFinishedEvent(point, settings, 'failed', null, end.message) : null),
  };
}

const describePoint = (point: number, settings: Partial<Hyperparameters>) => `point ${point} (${pointLabel(settings)})`;

export function pointFinishedEvent(
  point: number,
  settings: Partial<Hyperparameters>,
  state: 'succeeded' | 'failed',
  score: number | null,
  reason: string | null,
): NewJobEvent {
  const label = describePoint(point, settings);
  const message = state === 'succeeded' ? `${label} finished: score ${score ?? 'none'}` : `${label} failed: ${reason}`;
  return newJobEvent('point-finished', message, { point, settings, state, score, reason });
}
