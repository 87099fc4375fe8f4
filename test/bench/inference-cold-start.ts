/**
 * The inference function's packaging and cold start, measured on this machine:
 *
 *   node --import tsx test/bench/inference-cold-start.ts [--base DIR] [--runs N]
 *
 * Bundles the inference function exactly as the stack does (cdk/inference.ts; for linux/x64 here, so
 * the bundle can run), reports its size unzipped and zipped, then starts a fresh Node process per run
 * that imports the bundle and sends POST /adapters/{task}/predict as an API Gateway v2 event, with the
 * registry on a local S3 server (fauxqs) holding the base (default: the shipped one, assets/models/) and
 * one adapter with random tensors. Cold = import + first request (base download into a temp folder,
 * session, predict); warm = the second request. Nothing here is asserted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../../cdk/training.ts';
import { Registry } from '../../shared/registry/index.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { buildInferenceBundle, runInferenceBundle } from '../support/inference-bundle.ts';
import { startS3Server } from '../support/s3-server.ts';
import { publishRandomAdapter } from '../support/serving-store.ts';

const { values } = parseArgs({
  options: { base: { type: 'string' }, runs: { type: 'string', default: '3' } },
});
const shipped = join(REPO_ROOT, 'assets', 'models');
const baseDir = values.base
  ? resolve(values.base)
  : join(shipped, readdirSync(shipped).find((n) => statSync(join(shipped, n)).isDirectory())!);
const work = mkdtempSync(join(tmpdir(), 'bench-inference-'));

function treeBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (s, e) => s + (e.isDirectory() ? treeBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size),
    0,
  );
}

// 1. The bundle, as synth builds it.
const bundle = buildInferenceBundle(join(work, 'cdk.out'), 'x64');
execFileSync('zip', ['-qr9', join(work, 'bundle.zip'), '.'], { cwd: bundle.dir });
const sizes = {
  synthSeconds: +(bundle.synthMs / 1000).toFixed(1),
  unzippedMB: +(treeBytes(bundle.dir) / 1e6).toFixed(1),
  zippedMB: +(statSync(join(work, 'bundle.zip')).size / 1e6).toFixed(1),
  jsKB: Math.round((statSync(join(bundle.dir, 'index.mjs')).size + statSync(join(bundle.dir, 'node-worker.mjs')).size) / 1024),
  onnxruntimeAllPlatformsMB: +(treeBytes(join(REPO_ROOT, 'node_modules', 'onnxruntime-node')) / 1e6).toFixed(1),
};
console.log(JSON.stringify({ bundle: sizes }));

// 2. A registry on a local S3 server: the base and one adapter.
const s3 = await startS3Server();
await s3.createBucket('bench');
const registry = Registry.fromUri('s3://bench', s3.client);
await registry.models.upload(
  'bench',
  baseDir,
  readdirSync(baseDir).filter((f) => ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer.json'].includes(f)),
);
await publishRandomAdapter(registry, 'bench', loadBaseModel(baseDir), join(work, 'adapter'), {
  task: 'bench',
  mode: 'adapter',
  labels: 2,
  bottleneck: 16,
  seed: 1,
});

// 3. Fresh processes: import the bundle, a cold request, a warm one.
const env = {
  ...process.env,
  ...s3.env,
  ADAPTER_STORE_REGISTRY: 's3://bench',
  ADAPTER_STORE_API_KEYS: 'k',
  ADAPTER_STORE_INFERENCE_THREADS: '2',
};
const request = (text: string) => ({ task: 'bench', key: 'k', body: { inputs: [text] } });
for (let i = 0; i < Number(values.runs); i++) {
  const t = performance.now();
  const run = await runInferenceBundle(bundle, env, [request('a gripping film'), request('dull and far too long')]);
  const processMs = Math.round(performance.now() - t);
  if (run.responses.some((r) => r.status !== 200)) throw new Error(`run ${i}: ${JSON.stringify(run.responses)}`);
  const [cold, warm] = run.responses;
  console.log(
    JSON.stringify({ run: i, processMs, importMs: run.importMs, firstRequestMs: cold.ms, warmRequestMs: warm.ms, rssMB: run.rssMB }),
  );
}
console.log(JSON.stringify({ base: baseDir, baseMB: +(statSync(join(baseDir, 'model.safetensors')).size / 1e6).toFixed(1) }));
await s3.stop();
rmSync(work, { recursive: true, force: true });
