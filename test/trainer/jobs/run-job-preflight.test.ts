/**
 * run-job on CUDA runs the doctor before training (trainer/sessions/doctor.ts preflight): with a broken
 * CUDA provider (a copy of onnxruntime-node whose provider library is garbage) the job ends `failed` with
 * the doctor's reason, instead of training slowly on the CPU fallback.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Registry } from '../../../shared/registry/index.ts';
import { brokenCudaProviderCopy } from '../../support/onnxruntime-copy.ts';

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stderr }));
  });
}

test('run-job --device cuda with a broken CUDA provider: the job fails with the doctor reason, before any training', async () => {
  const work = mkdtempSync(join(tmpdir(), 'run-job-preflight-'));
  const uri = pathToFileURL(join(work, 'registry')).href;
  const registry = Registry.fromUri(uri);
  await registry.jobs.create({
    format: 'adapter-store.job/v1',
    jobId: 'ft-cuda',
    task: 'toy',
    datasetUri: 's3://registry/datasets/toy.jsonl',
    baseModel: 'tiny',
    createdAt: new Date().toISOString(),
    hyperparameters: { epochs: 1, batchSize: 8, lr: 1e-2, bottleneck: 4 },
  });
  const copy = brokenCudaProviderCopy();
  try {
    const r = await run(
      [...copy.nodeArgs, 'trainer/cli.ts', 'run-job', '--device', 'cuda', '--registry', uri, '--job', 'ft-cuda'],
      copy.env,
    );
    assert.equal(r.code, 1, r.stderr.slice(-2000));
    const status = await registry.jobs.status('ft-cuda');
    assert.equal(status?.state, 'failed');
    const reason = status.error?.message ?? '';
    assert.match(reason, /^trainer doctor --device cuda failed: the CUDA execution provider did not load/);
    assert.ok(reason.includes(copy.cudaProvider), reason);
    assert.equal(status.step, 0, 'no training step ran');
    // The base was never fetched: the preflight comes first (the registry has no base "tiny" at all).
    assert.doesNotMatch(reason, /tiny/);
    assert.match(r.stderr, /error: trainer doctor --device cuda failed: the CUDA execution provider did not load/);
  } finally {
    copy.remove();
    rmSync(work, { recursive: true, force: true });
  }
});
