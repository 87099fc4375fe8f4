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
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Inference } from '../../cdk/inference.ts';
import { RegistryBucket } from '../../cdk/registry.ts';
import { REPO_ROOT } from '../../cdk/training.ts';
import { Registry } from '../../shared/registry.ts';
import { parameterSpecs, specFromAdapterConfig } from '../../trainer/model/params.ts';
import { writeAdapterDir } from '../../trainer/model-files/adapter-dir.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import type { F32Tensor } from '../../trainer/model-files/safetensors.ts';
import { randomAdapter } from '../support/random-adapter.ts';
import { startS3Server } from '../support/s3-server.ts';

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
const app = new App({ outdir: join(work, 'cdk.out') });
const stack = new Stack(app, 'Bench');
const registryBucket = new RegistryBucket(stack, 'Registry');
const httpApi = new apigw.HttpApi(stack, 'Api', { createDefaultStage: true });
const inference = new Inference(stack, 'Inference', {
  registry: registryBucket,
  registryUri: 's3://bench',
  apiKeySecret: new secretsmanager.Secret(stack, 'Key'),
  defaultBaseModel: 'bench',
  httpApi,
  arch: 'x64',
});
let t = performance.now();
const assembly = app.synth();
const synthMs = performance.now() - t;
const template = assembly.getStackByName('Bench').template as { Resources: Record<string, { Properties: { Code?: { S3Key?: string } } }> };
const fnId = stack.getLogicalId(inference.handler.node.defaultChild as never);
const key = template.Resources[fnId].Properties.Code!.S3Key!;
const bundle = join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
execFileSync('zip', ['-qr9', join(work, 'bundle.zip'), '.'], { cwd: bundle });
const sizes = {
  synthSeconds: +(synthMs / 1000).toFixed(1),
  unzippedMB: +(treeBytes(bundle) / 1e6).toFixed(1),
  zippedMB: +(statSync(join(work, 'bundle.zip')).size / 1e6).toFixed(1),
  jsKB: Math.round((statSync(join(bundle, 'index.mjs')).size + statSync(join(bundle, 'node-worker.mjs')).size) / 1024),
  onnxruntimeAllPlatformsMB: +(treeBytes(join(REPO_ROOT, 'node_modules', 'onnxruntime-node')) / 1e6).toFixed(1),
};
console.log(JSON.stringify({ bundle: sizes }));

// 2. A registry on a local S3 server: the base and one adapter.
const s3 = await startS3Server();
await s3.createBucket('bench');
const registry = Registry.fromUri('s3://bench', s3.client);
await registry.uploadModel(
  'bench',
  baseDir,
  readdirSync(baseDir).filter((f) => ['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer.json'].includes(f)),
);
const base = loadBaseModel(baseDir);
const adapter = randomAdapter(base, { task: 'bench', mode: 'adapter', labels: 2, bottleneck: 16, seed: 1 });
const shapes = new Map(parameterSpecs(specFromAdapterConfig(adapter.config)).map((p) => [p.name, p.shape]));
const tensors = new Map<string, F32Tensor>([...adapter.tensors].map(([k, v]) => [k, { shape: shapes.get(k)!, data: v }]));
writeAdapterDir(join(work, 'adapter'), { config: adapter.config, tensors }, { ok: true }, { modelName: 'bench' });
await registry.publishAdapter(join(work, 'adapter'), {
  task: 'bench',
  jobId: null,
  baseModel: { name: 'bench', weightsSha256: base.weightsSha256 },
  mode: adapter.config.mode,
  labels: adapter.config.labels,
  parameters: { trainable: 1, total: 2 },
  metrics: null,
});

// 3. Fresh processes: import the bundle, a cold request, a warm one.
// The interval stands for Lambda's runtime client, which keeps the process alive between events.
const child = `
const keepAlive = setInterval(() => {}, 1000);
const t0 = performance.now();
const { handler } = await import(${JSON.stringify(join(bundle, 'index.mjs'))});
const t1 = performance.now();
const event = (text) => ({ version: '2.0', routeKey: '$default', rawPath: '/adapters/bench/predict', rawQueryString: '',
  headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
  requestContext: { http: { method: 'POST', path: '/adapters/bench/predict', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' }, requestId: 'r', routeKey: '$default', stage: '$default', timeEpoch: Date.now() },
  body: JSON.stringify({ inputs: [text] }), isBase64Encoded: false });
const ctx = { getRemainingTimeInMillis: () => 29000 };
const a = await handler(event('a gripping film'), ctx);
const t2 = performance.now();
const b = await handler(event('dull and far too long'), ctx);
const t3 = performance.now();
if (a.statusCode !== 200 || b.statusCode !== 200) { console.error(a.body, b.body); process.exit(1); }
console.log(JSON.stringify({ importMs: Math.round(t1 - t0), firstRequestMs: Math.round(t2 - t1), warmRequestMs: +(t3 - t2).toFixed(1), rssMB: Math.round(process.memoryUsage().rss / 1e6) }));
process.exit(0);
`;
const env = {
  ...process.env,
  ...s3.env,
  ADAPTER_STORE_REGISTRY: 's3://bench',
  ADAPTER_STORE_API_KEYS: 'k',
  ADAPTER_STORE_INFERENCE_THREADS: '2',
};
for (let i = 0; i < Number(values.runs); i++) {
  t = performance.now();
  // Asynchronously: the S3 server answering the child lives in this process's event loop.
  const stdout = await new Promise<string>((ok, fail) =>
    execFile(process.execPath, ['--input-type=module', '-e', child], { env, encoding: 'utf8', timeout: 180_000 }, (err, out, errOut) =>
      err ? fail(new Error(`run ${i} failed (${err.code ?? err.signal}): ${out}\n${errOut}`)) : ok(out),
    ),
  );
  const processMs = Math.round(performance.now() - t);
  const line = stdout.trim().split('\n').pop()!;
  console.log(JSON.stringify({ run: i, processMs, ...JSON.parse(line) }));
}
console.log(JSON.stringify({ base: baseDir, baseMB: +(statSync(join(baseDir, 'model.safetensors')).size / 1e6).toFixed(1) }));
await s3.stop();
rmSync(work, { recursive: true, force: true });
