/**
 * What the job page says about scores and progress. Pure (no DOM): tested in Node.
 * - A job's `metrics` are its latest (final) evaluation; the published adapter holds the selected
 *   (best) checkpoint's. Where the two differ both are shown, each labelled, so 0.8875 on the job and
 *   0.9000 on its adapter are not a puzzle.
 * - A sweep's progress is points done of the total, with a time estimate, not a sum of steps.
 */
import { isFinal } from '../../../shared/job-lifecycle.ts';
import type { Metrics } from './types.ts';

export interface ScoreRow {
  label: string;
  which: 'final' | 'selected' | 'latest';
  metrics: Omit<Metrics, 'examples'>;
}

const same = (a: Omit<Metrics, 'examples'>, b: Omit<Metrics, 'examples'>) =>
  a.accuracy === b.accuracy && a.macroF1 === b.macroF1 && a.mcc === b.mcc && a.loss === b.loss;

/**
 * The validation rows: `final` is the job's last evaluation (null where there is none to compare, e.g. a
 * sweep, whose job metrics are its winner's), `selected` the published checkpoint's (null while training).
 */
export function scoreRows(
  final: Omit<Metrics, 'examples'> | null,
  selected: Omit<Metrics, 'examples'> | null,
  selectedStep?: number,
): ScoreRow[] {
  const at = selectedStep === undefined ? '' : `, step ${selectedStep}`;
  if (!selected) return final ? [{ label: 'Validation (latest evaluation)', which: 'latest', metrics: final }] : [];
  if (!final) return [{ label: `Validation (selected checkpoint${at}, published)`, which: 'selected', metrics: selected }];
  if (same(final, selected))
    return [{ label: `Validation (selected checkpoint${at}, published; also the final evaluation)`, which: 'selected', metrics: selected }];
  return [
    { label: `Validation (selected checkpoint${at}, published)`, which: 'selected', metrics: selected },
    { label: 'Validation (final evaluation, not published)', which: 'final', metrics: final },
  ];
}

export interface SweepPointLike {
  status: string;
  progress: { fraction: number };
}

/** "1 / 3 points done · about 2 min left": `startedAt` and `now` in ms; no estimate before any progress or once ended. */
export function sweepProgress(points: readonly SweepPointLike[], startedAt: number | null, now: number, active: boolean): string {
  const done = points.filter((p) => isFinal(p.status)).length;
  const text = `${done} / ${points.length} points done`;
  const fraction = points.reduce((n, p) => n + (isFinal(p.status) ? 1 : p.progress.fraction), 0) / Math.max(1, points.length);
  if (!active || startedAt === null || fraction <= 0 || fraction >= 1) return text;
  const elapsed = (now - startedAt) / 1000;
  return `${text} · about ${duration((elapsed * (1 - fraction)) / fraction)} left`;
}

/** A rough duration: "40 s", "3 min", "1 h 5 min". */
export function duration(seconds: number): string {
  const s = Math.max(1, Math.round(seconds));
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
