/**
 * Load on the local server (`npm start`'s, as a separate process with a fresh store): GET
 * /adapters/:task (manifest + versions, from the registry) and GET /adapters/:task/download (a
 * BERT-base-sized adapter streamed from the embedded S3 store), with autocannon. Prints p50/p99
 * latency, requests/s and throughput. A benchmark, not a test.
 *
 *   npm run bench:load -- [--seconds 10] [--connections 10] [--adapter-mb 4.8]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Registry, s3ClientFromEnv } from '../../shared/registry.ts';
import { EMBEDDED_CREDENTIALS } from '../../functions/local/embedded-s3.ts';
import { startLocalServer } from '../support/local-server.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '10' }, 'adapter-mb': { type: 'string', default: '4.8' } } });
const seconds = Number(values.seconds);
const connections = Number(values.connections);
// BERT-base with bottleneck 64 in every layer: ~1.2 M float32 adapter parameters, ~4.8 MB.
const adapterBytes = Math.round(Number(values['adapter-mb']) * 1e6);

const store = mkdtempSync(join(tmpdir(), 'load-store-'));
const server = await startLocalServer({ store });
const { url, s3Endpoint: s3 } = server;
const key = readFileSync(join(store, 'api-key'), 'utf8').trim();

// One published version of a realistic size, written through the registry like a job would.
Object.assign(process.env, { AWS_ENDPOINT_URL_S3: s3, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: EMBEDDED_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: EMBEDDED_CREDENTIALS.secretAccessKey });
const registry = new Registry(s3ClientFromEnv(), { bucket: 'adapter-store', prefix: '' });
const dir = mkdtempSync(join(tmpdir(), 'load-adapter-'));
writeFileSync(join(dir, 'adapter.safetensors'), randomBytes(adapterBytes));
writeFileSync(join(dir, 'adapter_config.json'), '{}');
writeFileSync(join(dir, 'metrics.json'), '{}');
await registry.publishAdapter(dir, { task: 'load', jobId: null, baseModel: { name: 'bert-tiny-random', weightsSha256: '0'.repeat(64) }, mode: 'adapter', labels: ['negative', 'positive'], parameters: { trainable: adapterBytes / 4, total: 110e6 }, metrics: null });

async function measure(path: string): Promise<autocannon.Result> {
  return autocannon({ url: `${url}${path}`, connections, duration: seconds, headers: { authorization: `Bearer ${key}` } });
}

console.log(`local server ${url}, ${connections} connections, ${seconds} s per route, adapter ${(adapterBytes / 1e6).toFixed(1)} MB`);
console.log('| route | requests/s | p50 ms | p99 ms | MB/s | non-2xx |');
console.log('|---|---|---|---|---|---|');
for (const path of ['/adapters/load', '/adapters/load/download']) {
  const r = await measure(path);
  console.log(`| GET ${path} | ${r.requests.average.toFixed(0)} | ${r.latency.p50} | ${r.latency.p99} | ${(r.throughput.average / 1e6).toFixed(1)} | ${r.non2xx} |`);
}
await server.stop('SIGTERM');
