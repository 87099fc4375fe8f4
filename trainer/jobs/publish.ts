/**
 * A job's trained adapter directory published as the task's new version (a plain job's, or a sweep's
 * winner), once: a job that already published (it was stopped before it could say so) gets that version back.
 */
import type { AdapterConfig } from '../../shared/adapter-config.ts';
import type { JobMetrics, JobSpec } from '../../shared/job.ts';
import type { BelowMajority } from '../../shared/majority-baseline.ts';
import type { AdapterManifest } from '../../shared/manifest.ts';
import type { Registry } from '../../shared/registry/index.ts';

export async function publishJobAdapter(
  registry: Registry,
  spec: JobSpec,
  dir: string,
  config: Pick<AdapterConfig, 'base' | 'mode' | 'labels' | 'parameters'>,
  metrics: Omit<JobMetrics, 'examples'> | null,
  belowMajority: BelowMajority | null = null,
): Promise<AdapterManifest> {
  const published = await registry.adapters.findJobVersion(spec.task, spec.jobId, spec.createdAt);
  if (published) return published;
  return registry.adapters.publish(dir, {
    task: spec.task,
    jobId: spec.jobId,
    baseModel: { name: spec.baseModel, weightsSha256: config.base.weightsSha256 },
    mode: config.mode,
    labels: config.labels,
    parameters: config.parameters,
    metrics: metrics && { loss: metrics.loss, accuracy: metrics.accuracy, macroF1: metrics.macroF1, mcc: metrics.mcc },
    ...(belowMajority ? { belowMajority } : {}),
  });
}
