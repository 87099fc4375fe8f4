/**
 * Best-on-validation selection over a sweep's points, each scored by its seeds' validation metric.
 * A point's score is the mean over its seeds (the paper picked over seeds too); a point with a failed
 * seed is not selectable (its mean would hide the failure). Ties, compared exactly, go to:
 *   1. the point with fewer trainable parameters (the cheaper adapter),
 *   2. then the smaller spread over seeds (population standard deviation),
 *   3. then the point listed first in the grid.
 * Within the winning point, the adapter kept is its best seed's (ties: the seed listed first).
 */

export interface PointScores {
  /** One per seed, in --seeds order: the validation metric of that run, or null when it failed. */
  values: readonly (number | null)[];
  /** Trainable share of the point's model, in percent (null when unknown: every seed failed). */
  trainablePercent: number | null;
}

export interface SeedSummary {
  mean: number;
  /** Population standard deviation over the seeds that finished. */
  std: number;
  min: number;
  max: number;
  /** Seeds that finished. */
  n: number;
}

/** Mean, spread and range of the finished seeds' values; null when none finished. */
export function summarize(values: readonly (number | null)[]): SeedSummary | null {
  const ok = values.filter((v): v is number => v !== null);
  if (ok.length === 0) return null;
  const mean = ok.reduce((a, b) => a + b, 0) / ok.length;
  const std = Math.sqrt(ok.reduce((a, v) => a + (v - mean) ** 2, 0) / ok.length);
  return {
    mean,
    std,
    min: ok.reduce((m, v) => Math.min(m, v), Infinity),
    max: ok.reduce((m, v) => Math.max(m, v), -Infinity),
    n: ok.length,
  };
}

/** The winning point and seed (indices), or null when no point finished all its seeds. */
export function selectBest(points: readonly PointScores[], lowerIsBetter: boolean): { point: number; seed: number } | null {
  const better = (a: number, b: number) => (lowerIsBetter ? a < b : a > b);
  let best: { point: number; summary: SeedSummary; share: number } | null = null;
  for (const [point, p] of points.entries()) {
    if (p.values.length === 0 || p.values.some((v) => v === null)) continue;
    const summary = summarize(p.values)!;
    const share = p.trainablePercent ?? Infinity;
    const wins =
      !best ||
      better(summary.mean, best.summary.mean) ||
      (summary.mean === best.summary.mean && (share < best.share || (share === best.share && summary.std < best.summary.std)));
    if (wins) best = { point, summary, share };
  }
  if (!best) return null;
  const { point } = best;
  const values = points[point].values as number[];
  const seed = values.reduce((bi, v, i) => (better(v, values[bi]) ? i : bi), 0);
  return { point, seed };
}
