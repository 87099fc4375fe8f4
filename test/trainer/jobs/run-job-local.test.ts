/**
 * `trainer upload-base` and `trainer run-job` on a local registry (`--registry file:///dir`, as the
 * local server runs them): the base lands in the directory, the job reads its dataset from the
 * registry's own datasets/ (an s3://<dir name>/... URI), checkpoints into it and publishes a version.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Registry } from '../../../shared/registry.ts';
import { runTrainerCli } from '../../support/process.ts';
import { writeTinyBert } from '../../support/tiny-bert.ts';

const work = mkdtempSync(join(tmpdir(), 'run-job-local-'));
const root = join(work, 'local-registry');
const uri = pathToFileURL(root).href;
const registry = Registry.fromUri(uri);

test("upload-base and run-job take --registry file:///dir: the job trains on the registry's own dataset and publishes", async () => {
  const base = join(work, 'tiny');
  writeTinyBert(base, { numLayers: 1, seed: 2 });
  const up = await runTrainerCli(['upload-base', '--dir', base, '--name', 'tiny', '--registry', uri]);
  assert.equal(up.code, 0, up.stderr);
  assert.deepEqual(readdirSync(join(root, 'models', 'tiny')).sort(), ['config.json', 'model.safetensors', 'vocab.txt']);

  const rows = Buffer.from(
    `${Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ input_ids: [2, 8 + (i % 2) * 20 + (i % 7), 9 + (i % 2) * 20], label: i % 2 ? 'pos' : 'neg' }),
    ).join('\n')}\n`,
  );
  const datasetUri = await registry.putDataset('toy.jsonl', createHash('sha256').update(rows).digest('hex'), rows);
  assert.match(datasetUri, /^s3:\/\/local-registry\/datasets\/[0-9a-f]{16}\/toy\.jsonl$/);
  await registry.putJobSpec({
    format: 'adapter-store.job/v1',
    jobId: 'ft-local',
    task: 'toy',
    datasetUri,
    baseModel: 'tiny',
    createdAt: new Date().toISOString(),
    hyperparameters: { epochs: 2, batchSize: 8, lr: 1e-2, bottleneck: 4, dropout: 0, validationSplit: 0.25 },
  });
  const r = await runTrainerCli(['run-job', '--registry', uri, '--job', 'ft-local', '--status-interval', '0']);
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const status = await registry.getJobStatus('ft-local');
  assert.equal(status?.state, 'succeeded');
  assert.deepEqual(await registry.listVersions('toy'), [status.adapterVersion]);
  const manifest = (await registry.getManifest('toy', status.adapterVersion!))!;
  assert.equal(manifest.jobId, 'ft-local');
  const file = await registry.openAdapterFile('toy', manifest.version, 'adapter.safetensors');
  assert.equal(file?.size, manifest.files[0].bytes);
  file?.stream.destroy();
});

test('a registry URI that is neither s3:// nor file:// is refused by name', async () => {
  const r = await runTrainerCli(['run-job', '--registry', 'http://example.com/x', '--job', 'ft-x']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /must look like s3:\/\/bucket, s3:\/\/bucket\/prefix or file:\/\/\/directory/);
});
