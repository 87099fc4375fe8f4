/**
 * The inference function as it is deployed: bundled by a synth of the stack's Inference construct (for
 * this machine's arch, so it can run here) and run in a fresh Node process that imports the bundle and
 * sends POST /adapters/{task}/predict as API Gateway v2 events. Used by test/cdk/inference-bundle.test.ts
 * and test/bench/inference-cold-start.ts.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Inference } from '../../cdk/inference.ts';
import { RegistryBucket } from '../../cdk/registry.ts';

export interface InferenceBundle {
  /** The function's code directory (index.mjs, node-worker.mjs, node_modules/onnxruntime-*). */
  dir: string;
  synthMs: number;
}

export function buildInferenceBundle(outdir: string, arch: 'x64' | 'arm64' = 'x64'): InferenceBundle {
  const app = new App({ outdir });
  const stack = new Stack(app, 'Bundle');
  const inference = new Inference(stack, 'Inference', {
    registry: new RegistryBucket(stack, 'Registry'),
    registryUri: 's3://bundle',
    apiKeySecret: new secretsmanager.Secret(stack, 'Key'),
    defaultBaseModel: 'bundle',
    httpApi: new apigw.HttpApi(stack, 'Api', { createDefaultStage: true }),
    arch,
  });
  const t = performance.now();
  const assembly = app.synth();
  const synthMs = performance.now() - t;
  const template = assembly.getStackByName('Bundle').template as {
    Resources: Record<string, { Properties: { Code?: { S3Key?: string } } }>;
  };
  const key = template.Resources[stack.getLogicalId(inference.handler.node.defaultChild as never)].Properties.Code?.S3Key;
  if (!key) throw new Error('inference bundle: the function has no asset');
  return { dir: join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`), synthMs };
}

export interface BundleRun {
  importMs: number;
  /** Per request: status, parsed body, milliseconds. */
  responses: { status: number; body: unknown; ms: number }[];
  rssMB: number;
}

/**
 * A fresh process imports the bundle and sends one request per entry of `requests` (in order), as Lambda
 * would: the first is the cold one. `env` configures the function (ADAPTER_STORE_REGISTRY, keys, ...).
 */
export function runInferenceBundle(
  bundle: InferenceBundle,
  env: NodeJS.ProcessEnv,
  requests: { task: string; key: string; body: unknown }[],
  timeoutMs = 180_000,
): Promise<BundleRun> {
  // The interval stands for Lambda's runtime client, which keeps the process alive between events.
  const child = `
const keepAlive = setInterval(() => {}, 1000);
const t0 = performance.now();
const { handler } = await import(${JSON.stringify(join(bundle.dir, 'index.mjs'))});
const importMs = Math.round(performance.now() - t0);
const requests = ${JSON.stringify(requests)};
const responses = [];
for (const r of requests) {
  const path = '/adapters/' + r.task + '/predict';
  const event = { version: '2.0', routeKey: '$default', rawPath: path, rawQueryString: '',
    headers: { authorization: 'Bearer ' + r.key, 'content-type': 'application/json' },
    requestContext: { http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, requestId: 'r', routeKey: '$default', stage: '$default', timeEpoch: Date.now() },
    body: JSON.stringify(r.body), isBase64Encoded: false };
  const t = performance.now();
  const res = await handler(event, { getRemainingTimeInMillis: () => 29000 });
  responses.push({ status: res.statusCode, body: JSON.parse(res.body), ms: +(performance.now() - t).toFixed(1) });
}
console.log(JSON.stringify({ importMs, responses, rssMB: Math.round(process.memoryUsage().rss / 1e6) }));
process.exit(0);
`;
  // Asynchronously: a store server answering the child may live in this process's event loop.
  return new Promise((ok, fail) =>
    execFile(process.execPath, ['--input-type=module', '-e', child], { env, encoding: 'utf8', timeout: timeoutMs }, (err, out, errOut) => {
      if (err) return fail(new Error(`inference bundle run failed (${err.code ?? err.signal}): ${out}\n${errOut}`));
      // The function's own request log may print after it (it is flushed on exit): pick the run's line.
      const line = out.split('\n').find((l) => l.startsWith('{"importMs"'));
      if (!line) return fail(new Error(`inference bundle run printed no result: ${out}\n${errOut}`));
      ok(JSON.parse(line) as BundleRun);
    }),
  );
}
