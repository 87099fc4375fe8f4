/** What a job records when its adapter does not beat the majority-class predictor: a status field and a warning event. */
import type { JobStatus } from '../../shared/job.ts';
import { type NewJobEvent, newJobEvent } from '../../shared/job-events.ts';
import type { BelowMajority } from '../../shared/majority-baseline.ts';

export function majorityGuard(
  found: BelowMajority | null | undefined,
): { status: Pick<JobStatus, 'belowMajority'>; event: NewJobEvent } | null {
  if (!found) return null;
  return { status: { belowMajority: found }, event: newJobEvent('below-majority', found.message, found) };
}
