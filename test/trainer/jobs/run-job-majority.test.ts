/**
 * The majority-class guardrail end to end: a job whose rows are all the same text cannot beat always
 * answering the most frequent label, so it publishes, but its events, status, manifest and metrics.json say so.
 */
import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import type { Registry } from '../../../shared/registry/index.ts';
import { runTrainerCli } from '../../support/process.ts';
import { type S3TestServer, startS3Server } from '../../support/s3-server.ts';
import { tinyRegistry } from '../../support/tiny-registry.ts';

let s3: S3TestServer;
let registry: Registry;

before(async () => {
  s3 = await startS3Server();
  registry = await tinyRegistry(s3, 'run-job-majority-');
});

after(async () => {
  await s3?.stop();
});

// One text for every row (the model can only answer one label for all of them), 3 in 4 labelled "pos".
const SAME_TEXT = `${Array.from({ length: 40 }, (_, i) => JSON.stringify({ input_ids: [2, 8, 9], label: i % 4 ? 'pos' : 'neg' })).join('\n')}\n`;

test('a job no better than the majority class is published flagged: event, status, manifest, metrics.json', async () => {
  await s3.putObject('registry', 'datasets/same-text.jsonl', SAME_TEXT);
  await registry.jobs.create({
    format: 'adapter-store.job/v1',
    jobId: 'job-majority',
    task: 'constant',
    datasetUri: 's3://registry/datasets/same-text.jsonl',
    baseModel: 'tiny',
    createdAt: new Date().toISOString(),
    hyperparameters: { epochs: 1, batchSize: 8, lr: 1e-2, bottleneck: 4, dropout: 0, validationSplit: 0.25 },
  });
  const r = await runTrainerCli(['run-job', '--registry', 's3://registry', '--job', 'job-majority', '--status-interval', '0'], s3.env);
  assert.equal(r.code, 0, r.stderr.slice(-2000));

  const status = await registry.jobs.status('job-majority');
  assert.equal(status?.state, 'succeeded', 'the adapter is still published');
  const flag = status.belowMajority;
  assert.ok(flag, 'status.json says the adapter does not beat the majority class');
  assert.equal(flag.metric, 'accuracy');
  assert.ok(flag.score <= flag.majorityScore, `${flag.score} <= ${flag.majorityScore}`);
  assert.ok(flag.majorityRate >= 0.5 && flag.majorityRate < 1);
  // The validation set's majority label is the one the data leans to (3 in 4 overall; a split of 10 rows keeps the lean).
  assert.equal(flag.majorityLabel, 'pos');

  const { events } = await registry.jobs.listEvents('job-majority', { limit: 1000 });
  const warned = events.filter((e) => e.type === 'below-majority');
  assert.equal(warned.length, 1);
  assert.equal(warned[0].level, 'warn');
  assert.equal(warned[0].message, flag.message);
  const types = events.map((e) => e.type);
  assert.ok(types.indexOf('below-majority') < types.indexOf('succeeded'), 'the warning comes before the end');

  const manifest = await registry.adapters.manifest('constant', status.adapterVersion!);
  assert.deepEqual(manifest?.belowMajority, flag);
  const body = await registry.adapters.openFile('constant', status.adapterVersion!, 'metrics.json');
  assert.ok(body);
  const metrics = JSON.parse(await text(body.stream)) as { majority: { label: string; rate: number }; belowMajority: unknown };
  assert.equal(metrics.majority.label, 'pos');
  assert.deepEqual(metrics.belowMajority, flag);
});

test("a sweep's reduce flags its winner the same way", async () => {
  await registry.jobs.create({
    format: 'adapter-store.job/v1',
    jobId: 'sweep-majority',
    task: 'constant-sweep',
    datasetUri: 's3://registry/datasets/same-text.jsonl',
    baseModel: 'tiny',
    createdAt: new Date().toISOString(),
    hyperparameters: { epochs: 1, batchSize: 8, lr: [1e-2, 1e-3], bottleneck: 4, dropout: 0, validationSplit: 0.25 },
  });
  const r = await runTrainerCli(['run-job', '--registry', 's3://registry', '--job', 'sweep-majority', '--status-interval', '0'], s3.env);
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const status = await registry.jobs.status('sweep-majority');
  assert.equal(status?.state, 'succeeded');
  assert.ok(status.belowMajority, 'the sweep status is flagged');
  const manifest = await registry.adapters.manifest('constant-sweep', status.adapterVersion!);
  assert.deepEqual(manifest?.belowMajority, status.belowMajority);
  const { events } = await registry.jobs.listEvents('sweep-majority', { limit: 1000 });
  assert.equal(events.filter((e) => e.type === 'below-majority').length, 1);
});
