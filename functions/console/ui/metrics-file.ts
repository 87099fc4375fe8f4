/** A version's metrics.json: the metrics route where the API has it, else the file through the download route. */
import { getJson } from './api.ts';
import { hasRoute } from './openapi.ts';
import type { TrainMetricsFile } from './types.ts';

export async function metricsFile(task: string, version: string): Promise<TrainMetricsFile> {
  if (await hasRoute('/adapters/{task}/versions/{version}/metrics'))
    return getJson<TrainMetricsFile>(`/adapters/${task}/versions/${version}/metrics`);
  return getJson<TrainMetricsFile>(`/adapters/${task}/download?version=${version}&file=metrics.json`);
}
