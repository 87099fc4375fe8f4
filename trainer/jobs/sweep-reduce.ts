/**
 * A sweep's reduce step (`run-job --reduce`; on AWS the Batch job that depends on the array): reads every
 * point's result, picks the best on validation by the rule `trainer sweep` uses (sweep/select.ts: mean over
 * seeds, a point with a failed seed not selectable, ties to the cheaper adapter), and publishes that point's
 * staged adapter as the task's new version, its metrics.json holding every point's result. A sweep where
 * no point finished fails, naming each point's reason.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterConfig } from '../../shared/adapter-config.ts';
import { type Hyperparameters, type JobSpec, type PointStatus, queuedStatus } from '../../shared/job.ts';
import { newJobEvent } from '../../shared/job-events.ts';
import { belowMajority, type MajorityBaseline } from '../../shared/majority-baseline.ts';
import { pointLabel, sweepSettings } from '../../shared/sweep.ts';
import { selectBest } from '../sweep/select.ts';
import { trainDefaults } from '../train/defaults.ts';
import type { JobOutcome } from './job-outcome.ts';
import { JobReporter, jobPlace } from './job-reporter.ts';
import { majorityGuard } from './majority-guard.ts';
import { publishJobAdapter } from './publish.ts';
import type { RunJobOptions } from './run-job.ts';

/** One point's line in the published metrics.json `sweep` field. */
export interface SweepPointSummary {
  point: number;
  settings: Partial<Hyperparameters>;
  state: PointStatus['state'] | 'missing';
  score: number | null;
  seeds: { seed: number; score: number | null }[];
  trainablePercent: number | null;
  error: string | null;
}

export async function reduceSweep(o: RunJobOptions, spec: JobSpec): Promise<JobOutcome> {
  const { registry, jobId } = o;
  const current = (await registry.jobs.status(jobId)) ?? queuedStatus(jobId, spec.createdAt);
  if (current.state === 'succeeded') return { kind: 'done', status: current }; // a retried reduce: already published
  // The sweep's own status, written at once (a reduce writes a handful); its end events are the job's.
  const reporter = new JobReporter({
    ...o,
    statusInterval: 0,
    place: jobPlace,
    status: { ...current, startedAt: current.startedAt ?? new Date().toISOString() },
  });
  // A cancel is the API's to log.
  const cancelled = async (): Promise<JobOutcome> => {
    await reporter.update({ state: 'cancelled', finishedAt: new Date().toISOString() }, true);
    return { kind: 'done', status: reporter.status };
  };
  const failed = async (error: Error): Promise<JobOutcome> => {
    await reporter.end({ state: 'failed', message: error.message });
    return { kind: 'failed', status: reporter.status, error };
  };
  if (await registry.jobs.cancelRequest(jobId)) return cancelled();

  const h = spec.hyperparameters;
  const metric = h.metric ?? trainDefaults.metric;
  const settings = sweepSettings(h);
  const statuses = await Promise.all(settings.map((_, i) => registry.jobs.pointStatus(jobId, i)));
  const summaries: SweepPointSummary[] = statuses.map((s, point) => ({
    point,
    settings: settings[point],
    state: s?.state ?? 'missing',
    score: s?.state === 'succeeded' ? (s.score ?? null) : null,
    seeds: s?.state === 'succeeded' ? (s.seeds ?? []) : [],
    trainablePercent: s?.trainablePercent ?? null,
    error: s?.error?.message ?? null,
  }));
  const chosen = selectBest(
    summaries.map((p) => ({
      values: p.state === 'succeeded' && p.seeds.length > 0 ? p.seeds.map((s) => s.score) : [null],
      trainablePercent: p.trainablePercent,
    })),
    metric === 'loss',
  );
  if (!chosen) {
    const why = summaries.map((p) => `point ${p.point} (${pointLabel(p.settings)}): ${p.error ?? reasonOf(p.state)}`).join('; ');
    return failed(new Error(`no point of the sweep finished with a validation score: ${why}`));
  }
  const best = summaries[chosen.point];
  const winner = statuses[chosen.point]!;

  const work = mkdtempSync(join(tmpdir(), `reduce-${jobId}-`));
  try {
    const dir = join(work, 'adapter');
    if ((await registry.jobs.downloadPointAdapter(jobId, best.point, dir)) === 0)
      throw new Error(`point ${best.point} finished but its staged adapter (jobs/${jobId}/points/${best.point}/adapter/) is missing`);
    // The published metrics.json says how the version was chosen: every point's result beside the winner's own.
    const metricsFile = join(dir, 'metrics.json');
    const trained = JSON.parse(readFileSync(metricsFile, 'utf8')) as Record<string, unknown>;
    const finished = summaries.filter((p) => p.state === 'succeeded').length;
    writeFileSync(
      metricsFile,
      `${JSON.stringify({ ...trained, sweep: { metric, selection: 'mean over seeds on validation', bestPoint: best.point, points: summaries } }, null, 2)}\n`,
    );
    const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as AdapterConfig;
    if (await registry.jobs.cancelRequest(jobId)) return await cancelled();
    // The guardrail, on the winner's own validation set (its metrics.json carries the majority baseline).
    const guard = majorityGuard(belowMajority(winner.best ?? null, (trained as { majority?: MajorityBaseline | null }).majority, metric));
    const manifest = await publishJobAdapter(registry, spec, dir, config, winner.best ?? null, guard?.status.belowMajority);
    await reporter.succeed(
      { adapterVersion: manifest.version, validation: winner.best ?? null, sweep: { bestPoint: best.point }, ...guard?.status },
      [
        ...(guard ? [guard.event] : []),
        newJobEvent('sweep-selected', `point ${best.point} (${pointLabel(best.settings)}) is best on ${metric}: ${best.score}`, {
          point: best.point,
          settings: best.settings,
          metric,
          score: best.score!,
          points: summaries.length,
          finished,
        }),
        newJobEvent('succeeded', `published ${spec.task} version ${manifest.version}`, {
          adapterVersion: manifest.version,
          metrics: manifest.metrics,
        }),
      ],
    );
    return { kind: 'done', status: reporter.status };
  } catch (err) {
    // Publishing failed (a staged file missing, the store refusing): the job says why, not just its exit code.
    return await failed(new Error(`publishing the sweep's best point ${best.point} failed: ${(err as Error).message}`, { cause: err }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function reasonOf(state: SweepPointSummary['state']): string {
  if (state === 'missing') return 'never started';
  if (state === 'succeeded') return 'no validation score';
  return state;
}
