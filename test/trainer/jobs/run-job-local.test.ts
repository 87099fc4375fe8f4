/**
 * `trainer upload-base` and `trainer run-job` on a local registry (`--registry file:///dir`, as the
 * local server runs them): the base lands in the directory, the job reads its dataset from the
 * registry's own datasets/ (an s3://<dir name>/... URI), checkpoints into it and publishes a version.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Registry } from '../../../shared/registry/index.ts';
import { runTrainerCli } from '../../support/process.ts';
import { TOY_JSONL, writeTinyBert } from '../../support/tiny-bert.ts';
import { waitUntil } from '../../support/wait.ts';

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
  const datasetUri = await registry.datasets.put('toy.jsonl', createHash('sha256').update(rows).digest('hex'), rows);
  assert.match(datasetUri, /^s3:\/\/local-registry\/datasets\/[0-9a-f]{16}\/toy\.jsonl$/);
  await registry.jobs.create({
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
  const status = await registry.jobs.status('ft-local');
  assert.equal(status?.state, 'succeeded');
  assert.deepEqual(await registry.adapters.versions('toy'), [status.adapterVersion]);
  const manifest = (await registry.adapters.manifest('toy', status.adapterVersion!))!;
  assert.equal(manifest.jobId, 'ft-local');
  const file = await registry.adapters.openFile('toy', manifest.version, 'adapter.safetensors');
  assert.equal(file?.size, manifest.files[0].bytes);
  file?.stream.destroy();
});

test('a registry URI that is neither s3:// nor file:// is refused by name', async () => {
  const r = await runTrainerCli(['run-job', '--registry', 'http://example.com/x', '--job', 'ft-x']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /must look like s3:\/\/bucket, s3:\/\/bucket\/prefix or file:\/\/\/directory/);
});

test('a local sweep stopped mid-point (its server gone) is left queued; run again, it skips the finished point and resumes the other', async () => {
  const base = join(work, 'tiny-sweep');
  writeTinyBert(base, { numLayers: 1, seed: 3 });
  assert.equal((await runTrainerCli(['upload-base', '--dir', base, '--name', 'tiny-sweep', '--registry', uri])).code, 0);
  // The toy rows ten times over: 75 steps an epoch at batch 4.
  const rows = Buffer.from(TOY_JSONL.repeat(10));
  const datasetUri = await registry.datasets.put('toy.jsonl', createHash('sha256').update(rows).digest('hex'), rows);
  const jobId = 'ft-local-sweep';
  await registry.jobs.create({
    format: 'adapter-store.job/v1',
    jobId,
    task: 'toy-sweep',
    datasetUri,
    baseModel: 'tiny-sweep',
    createdAt: new Date().toISOString(),
    // Point 0 trains 1 epoch; point 1 7,500 steps: it is still training when its runner goes.
    hyperparameters: { epochs: [1, 100], batchSize: 4, lr: 1e-2, bottleneck: 4, dropout: 0, validationSplit: 0.25 },
  });
  const args = ['--import', 'tsx', 'trainer/cli.ts', 'run-job', '--registry', uri, '--job', jobId, '--status-interval', '0'];
  // As the local server runs it: stdin is a pipe whose end means the server is gone.
  const child = spawn(process.execPath, [...args, '--stop-when-stdin-closes'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((done) => child.on('close', done));
  // Past step 100 of point 1: its first checkpoint (every 100 steps) is in the registry.
  await waitUntil(
    'point 1 past step 110',
    async () => {
      if ((await registry.jobs.status(jobId))?.state === 'failed') assert.fail(`the sweep failed: ${stderr.slice(-2000)}`);
      return ((await registry.jobs.pointStatus(jobId, 1))?.step ?? 0) > 110;
    },
    { timeoutMs: 120_000, intervalMs: 20 },
  );
  // Frozen while its stdin closes, so it cannot finish first; it sees the end at its next step.
  child.kill('SIGSTOP');
  child.stdin.end();
  child.kill('SIGCONT');
  const first = (await registry.jobs.pointStatus(jobId, 0))!;
  assert.equal(first.state, 'succeeded');
  assert.equal(await exited, 143, stderr.slice(-2000));
  assert.equal((await registry.jobs.status(jobId))?.state, 'queued', 'the sweep is left queued to resume');
  assert.equal((await registry.jobs.pointStatus(jobId, 1))?.state, 'queued');
  assert.deepEqual(await registry.adapters.versions('toy-sweep'), []);

  // Run again: point 0 is not trained again, point 1 resumes from its checkpoint.
  const again = await runTrainerCli(args.slice(3));
  assert.equal(again.code, 0, again.stderr.slice(-2000));
  assert.deepEqual(await registry.jobs.pointStatus(jobId, 0), first, 'the finished point is untouched');
  assert.match(again.stderr, /"event":"checkpoint-restored"/);
  // Resumed, not restarted (nor failed: the fingerprint names contents, not the temporary folder the base is in).
  const resumedAt = /"event":"resume",[^\n]*"step":(\d+)/.exec(again.stderr);
  assert.ok(resumedAt && Number(resumedAt[1]) >= 100, `point 1 resumed from its checkpoint: ${resumedAt?.[0]}`);
  assert.equal((await registry.jobs.pointStatus(jobId, 1))?.state, 'succeeded');
  const { events } = await registry.jobs.listEvents(jobId);
  const started = events.flatMap((e) => (e.type === 'point-started' ? [e.data.point] : []));
  assert.deepEqual(started, [0, 1, 1], 'point 0 started once, point 1 twice');
  const status = (await registry.jobs.status(jobId))!;
  assert.equal(status.state, 'succeeded', JSON.stringify(status));
  assert.deepEqual(await registry.adapters.versions('toy-sweep'), [status.adapterVersion]);
});
