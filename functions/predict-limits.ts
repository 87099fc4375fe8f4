/**
 * The predict work bounds from the environment, shared by the local server and the inference function
 * (defaults: serving/runtime.ts; the notes' configuration table lists them).
 *   ADAPTER_STORE_PREDICT_MAX_QUEUED_ROWS     rows admitted at once per process; beyond: 429 (default 256)
 *   ADAPTER_STORE_PREDICT_BATCH_ADAPTERS      distinct adapters in one mixed batch (default 8)
 *   ADAPTER_STORE_PREDICT_BATCH_PADDED_BYTES  stacked, padded adapter feeds of one mixed batch (default 128 MiB)
 */
import { type Env, integer } from '../shared/env.ts';

export interface PredictLimits {
  maxQueuedRows?: number;
  maxBatchAdapters?: number;
  maxBatchPaddedBytes?: number;
}

export function predictLimitsFromEnv(env: Env): PredictLimits {
  const limits: PredictLimits = {};
  const rows = integer(env, 'ADAPTER_STORE_PREDICT_MAX_QUEUED_ROWS', { min: 1 });
  const adapters = integer(env, 'ADAPTER_STORE_PREDICT_BATCH_ADAPTERS', { min: 1 });
  const bytes = integer(env, 'ADAPTER_STORE_PREDICT_BATCH_PADDED_BYTES', { min: 1 });
  if (rows !== undefined) limits.maxQueuedRows = rows;
  if (adapters !== undefined) limits.maxBatchAdapters = adapters;
  if (bytes !== undefined) limits.maxBatchPaddedBytes = bytes;
  return limits;
}
