/**
 * Load on the local server (`npm start`'s, as a separate process with a fresh store): how long it takes
 * to be ready (first start, which seeds the base model, then a restart on the same store), GET
 * /adapters/:task (manifest + versions) at a fixed 1,000 requests/s and flat out, and GET
 * /adapters/:task/download (a BERT-base-sized adapter streamed from the store's directory), with autocannon. Prints
 * p50/p99 latency, requests/s and throughput. A benchmark, not a test.
 *
 *   npm run bench:load -- [--seconds 10] [--connections 10] [--rate 1000] [--adapter-mb 4.8]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Registry } from '../../shared/registry/index.ts';
import { type LocalServer, startLocalServer } from '../support/local-server.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    'adapter-mb': { type: 'string', default: '4.8' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rate = Number(values.rate);
// BERT-base with bottleneck 64 in every layer: ~1.2 M float32 adapter parameters, ~4.8 MB.
const adapterBytes = Math.round(Number(values['adapter-mb']) * 1e6);

const store = mkdtempSync(join(tmpdir(), 'load-store-'));

async function timedStart(): Promise<{ server: LocalServer; ms: number }> {
  const t0 = performance.now();
  const server = await startLocalServer({ store });
  return { server, ms: performance.now() - t0 };
}

const first = await timedStart();
await first.server.stop('SIGTERM');
const { server, ms: restartMs } = await timedStart();
const { url } = server;
const key = readFileSync(join(store, 'api-key'), 'utf8').trim();

// One published version of a realistic size, written through the registry like a job would.
const registry = Registry.fromUri(server.registryUri);
const dir = mkdtempSync(join(tmpdir(), 'load-adapter-'));
writeFileSync(join(dir, 'adapter.safetensors'), randomBytes(adapterBytes));
writeFileSync(join(dir, 'adapter_config.json'), '{}');
writeFileSync(join(dir, 'metrics.json'), '{}');
await registry.adapters.publish(dir, {
  task: 'load',
  jobId: null,
  baseModel: { name: 'bert-imdb-4x128-v2', weightsSha256: '0'.repeat(64) },
  mode: 'adapter',
  labels: ['negative', 'positive'],
  parameters: { trainable: adapterBytes / 4, total: 110e6 },
  metrics: null,
});

async function measure(path: string, overallRate?: number): Promise<autocannon.Result> {
  return autocannon({ url: `${url}${path}`, connections, duration: seconds, overallRate, headers: { authorization: `Bearer ${key}` } });
}

/**
 * Download throughput with a lean client: `streams` loops of node:http GETs whose bodies are counted and
 * dropped (autocannon parses every body in JS, so on a shared 2-core machine it measures itself).
 */
async function drain(path: string, streams: number): Promise<{ mbPerSecond: number; requests: number }> {
  const until = performance.now() + seconds * 1000;
  let bytes = 0;
  let requests = 0;
  const one = () =>
    new Promise<void>((done, fail) => {
      get(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } }, (res) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => {
          requests++;
          done();
        });
      }).on('error', fail);
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async () => {
      while (performance.now() < until) await one();
    }),
  );
  return { mbPerSecond: bytes / 1e6 / ((performance.now() - t0) / 1000), requests };
}

console.log(`local server ${url}, ${connections} connections, ${seconds} s per row, adapter ${(adapterBytes / 1e6).toFixed(1)} MB`);
console.log(`ready: first start (seeds the base model) ${first.ms.toFixed(0)} ms, restart ${restartMs.toFixed(0)} ms`);
console.log('| route | offered | requests/s | p50 ms | p99 ms | MB/s | non-2xx |');
console.log('|---|---|---|---|---|---|---|');
for (const [path, offered] of [
  ['/adapters/load', rate],
  ['/adapters/load', undefined],
  ['/adapters/load/download', undefined],
] as const) {
  const r = await measure(path, offered);
  console.log(
    `| GET ${path} | ${offered ?? 'max'} | ${r.requests.average.toFixed(0)} | ${r.latency.p50} | ${r.latency.p99} | ${(r.throughput.average / 1e6).toFixed(1)} | ${r.non2xx} |`,
  );
}
const lean = await drain('/adapters/load/download', 4);
console.log(
  `download with a lean client (4 streams of node:http GETs, bodies dropped): ${lean.mbPerSecond.toFixed(0)} MB/s, ${lean.requests} downloads`,
);
await server.stop('SIGTERM');
