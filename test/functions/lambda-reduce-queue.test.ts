/** The Lambda's Batch launcher: a sweep's reduce step goes to the CPU queue the stack passes, else where the points go. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchLauncher } from '../../functions/jobs/batch-launcher.ts';
import { depsFromEnv } from '../../functions/lambda.ts';

const ENV = { ADAPTER_STORE_REGISTRY: 's3://registry', BATCH_JOB_QUEUE: 'gpu-queue', BATCH_JOB_DEFINITION: 'trainer:1' };

test('BATCH_REDUCE_JOB_QUEUE and BATCH_REDUCE_JOB_DEFINITION route the reduce step; unset, it follows the points', () => {
  const routed = depsFromEnv({ ...ENV, BATCH_REDUCE_JOB_QUEUE: 'cpu-queue', BATCH_REDUCE_JOB_DEFINITION: 'reduce:2' }, ['k']).launcher;
  assert.ok(routed instanceof BatchLauncher);
  assert.deepEqual(
    [routed.jobQueue, routed.jobDefinition, routed.reduceJobQueue, routed.reduceJobDefinition],
    ['gpu-queue', 'trainer:1', 'cpu-queue', 'reduce:2'],
  );
  const plain = depsFromEnv(ENV, ['k']).launcher;
  assert.ok(plain instanceof BatchLauncher);
  assert.deepEqual([plain.reduceJobQueue, plain.reduceJobDefinition], ['gpu-queue', 'trainer:1']);
  routed.client.destroy();
  plain.client.destroy();
});
