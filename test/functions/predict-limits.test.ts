/** The predict work bounds read from the environment (local server and inference function). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { predictorOptionsFromEnv } from '../../functions/inference-lambda.ts';
import { predictLimitsFromEnv } from '../../functions/predict-limits.ts';
import { Registry } from '../../shared/registry/index.ts';

test('unset: the runtime defaults; set: positive integers; anything else refused by name', () => {
  assert.deepEqual(predictLimitsFromEnv({}), {});
  assert.deepEqual(
    predictLimitsFromEnv({
      ADAPTER_STORE_PREDICT_MAX_QUEUED_ROWS: '64',
      ADAPTER_STORE_PREDICT_BATCH_ADAPTERS: '4',
      ADAPTER_STORE_PREDICT_BATCH_PADDED_BYTES: '1048576',
    }),
    { maxQueuedRows: 64, maxBatchAdapters: 4, maxBatchPaddedBytes: 1048576 },
  );
  for (const bad of ['0', '-1', '1.5', 'lots'])
    assert.throws(() => predictLimitsFromEnv({ ADAPTER_STORE_PREDICT_MAX_QUEUED_ROWS: bad }), /ADAPTER_STORE_PREDICT_MAX_QUEUED_ROWS/);
});

test('the inference function passes them to its predictor', () => {
  const registry = Registry.fromUri('file:///tmp/predict-limits-unused');
  const o = predictorOptionsFromEnv({ ADAPTER_STORE_PREDICT_MAX_QUEUED_ROWS: '7' }, registry);
  assert.equal(o.maxQueuedRows, 7);
});

test("the inference function's own variables: threads and cache bytes are positive integers, the base folder a path", () => {
  const registry = Registry.fromUri('file:///tmp/predict-limits-unused');
  const o = predictorOptionsFromEnv(
    { ADAPTER_STORE_INFERENCE_THREADS: '2', ADAPTER_STORE_ADAPTER_CACHE_BYTES: '1048576', ADAPTER_STORE_BASE_DIR: '/tmp/bases' },
    registry,
  );
  assert.equal(o.threads, 2);
  assert.equal(o.cacheBytes, 1048576);
  assert.ok(o.baseDir, 'a base folder was given');
  const unset = predictorOptionsFromEnv({ ADAPTER_STORE_INFERENCE_THREADS: '', ADAPTER_STORE_BASE_DIR: '' }, registry);
  assert.equal(unset.threads, undefined);
  assert.equal(unset.baseDir, undefined);
  assert.throws(
    () => predictorOptionsFromEnv({ ADAPTER_STORE_INFERENCE_THREADS: '0' }, registry),
    /^EnvError: ADAPTER_STORE_INFERENCE_THREADS must be a positive integer, got "0"$/,
  );
  assert.throws(
    () => predictorOptionsFromEnv({ ADAPTER_STORE_ADAPTER_CACHE_BYTES: '256MB' }, registry),
    /^EnvError: ADAPTER_STORE_ADAPTER_CACHE_BYTES must be a positive integer, got "256MB"$/,
  );
});
