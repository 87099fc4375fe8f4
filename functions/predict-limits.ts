/**
 * The predict work bounds from the environment, shared by the local server and the inference function
 * (defaults: serving/runtime.ts; the notes' configuration table lists them).
 *   ADAPTER_STORE_PREDICT_MAX_QUEUED_ROWS     rows admitted at once per process; beyond: 429 (default 256)
 *   ADAPTER_STORE_PREDICT_BATCH_ADAPTERS      distinct adapters in one mixed batch (default 8)
 *   ADAPTER_STORE_PREDICT_BATCH_PADDED_BYTES  stacked, padded adapter feeds of one mixed batch (default 128 MiB)
 */
export interface PredictLimits {
  maxQueuedRows?: number;
  maxBatchAdapters?: number;
  maxBatchPaddedBytes?: number;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

export function predictLimitsFromEnv(env: NodeJS.ProcessEnv): PredictLimits {
  const limits: PredictLimits = {};
  const rows = positiveInt(env, 'ADAPTER_STORE_PREDICT_MAX_QUEUED_ROWS');
  const adapters = positiveInt(env, 'ADAPTER_STORE_PREDICT_BATCH_ADAPTERS');
  const bytes = positiveInt(env, 'ADAPTER_STORE_PREDICT_BATCH_PADDED_BYTES');
  if (rows !== undefined) limits.maxQueuedRows = rows;
  if (adapters !== undefined) limits.maxBatchAdapters = adapters;
  if (bytes !== undefined) limits.maxBatchPaddedBytes = bytes;
  return limits;
}
