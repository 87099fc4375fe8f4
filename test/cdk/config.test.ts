/** Context settings (cdk.json or -c key=value, where every value is a string). */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from 'aws-cdk-lib';
import { configFromContext, DEFAULT_CONFIG } from '../../cdk/config.ts';

const fromContext = (context: Record<string, unknown>) => configFromContext(new App({ context }).node);

test('defaults: Spot with fallback, bert-base-uncased, registry bucket only', () => {
  assert.deepEqual(fromContext({}), DEFAULT_CONFIG);
  assert.deepEqual(DEFAULT_CONFIG, {
    datasetBuckets: [],
    defaultBaseModel: 'bert-base-uncased',
    spot: true,
    maxVcpus: 32,
    cdnKeyRotation: '1',
    maxRunnableMinutes: 240,
  });
});

test('command-line strings and cdk.json values read the same', () => {
  const cli = fromContext({
    spot: 'false',
    datasetBuckets: 'a-bucket, b.bucket',
    maxVcpus: '64',
    defaultBaseModel: 'bert-large-cased',
    maxRunnableMinutes: '90',
  });
  const json = fromContext({
    spot: false,
    datasetBuckets: ['a-bucket', 'b.bucket'],
    maxVcpus: 64,
    defaultBaseModel: 'bert-large-cased',
    maxRunnableMinutes: 90,
  });
  assert.deepEqual(cli, json);
  assert.deepEqual(cli, {
    datasetBuckets: ['a-bucket', 'b.bucket'],
    defaultBaseModel: 'bert-large-cased',
    spot: false,
    maxVcpus: 64,
    cdnKeyRotation: '1',
    maxRunnableMinutes: 90,
  });
});

test('bad values fail the synth with the setting named', () => {
  assert.throws(() => fromContext({ spot: 'no' }), /"spot"/);
  assert.throws(() => fromContext({ datasetBuckets: 's3://bucket' }), /bucket name/);
  assert.throws(() => fromContext({ maxVcpus: '0' }), /"maxVcpus"/);
  assert.throws(() => fromContext({ defaultBaseModel: '../etc' }), /defaultBaseModel/);
  assert.throws(() => fromContext({ maxRunnableMinutes: '5' }), /"maxRunnableMinutes" must be from 10 to 1440 \(Batch's bounds\), got 5/);
  assert.throws(() => fromContext({ maxRunnableMinutes: 1441 }), /"maxRunnableMinutes" must be from 10 to 1440/);
  assert.throws(() => fromContext({ maxRunnableMinutes: '4h' }), /"maxRunnableMinutes" must be a positive integer/);
});
