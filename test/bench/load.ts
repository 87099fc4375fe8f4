/**
 * Load on the local server (`npm start`'s, as a separate process with a fresh store): how long it takes
 * to be ready (first start, which seeds the base model, then a restart on the same store), GET
 * /adapters/:task at fixed offered rates (open loop: latency counted from when each request was due, so a
 * stall is not hidden by a client that waits for it), and GET /adapters/:task/download in MB/s next to what
 * this machine reads, hashes and copies without the server. The client is test/bench/load-client.ts (raw
 * keep-alive sockets, bodies counted and dropped), so on a shared 2-core machine it is not what limits the
 * figures. Every row prints the load average over it. A benchmark, not a test.
 *
 *   npm run bench:load -- [--seconds 10] [--connections 32] [--rates 1000,2000] [--streams 4] [--adapter-mb 4.8]
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from '../../shared/registry/index.ts';
import { type LocalServer, startLocalServer } from '../support/local-server.ts';
import { constantRate, drain, percentile, type Target } from './load-client.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    rates: { type: 'string', default: '1000,2000' },
    streams: { type: 'string', default: '4' },
    'adapter-mb': { type: 'string', default: '4.8' },
  },
});
const seconds = Number(values.seconds);
// Open loop needs more sockets than rate x round trip: with 10, a round trip stretched to 10 ms by a busy
// machine capped 2,000 offered/s at ~1,000 sent/s.
const connections = Number(values.connections);
const rates = values.rates.split(',').map(Number);
const streams = Number(values.streams);
// BERT-base with bottleneck 64 in every layer: ~1.2 M float32 adapter parameters, ~4.8 MB.
const adapterBytes = Math.round(Number(values['adapter-mb']) * 1e6);
for (const [name, v] of Object.entries({ seconds, connections, streams, 'adapter-mb': adapterBytes }))
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
if (rates.some((r) => !Number.isFinite(r) || r <= 0))
  throw new Error(`--rates must be positive numbers separated by commas, not "${values.rates}"`);

/** The 1-minute load average now (other work on the machine: these figures share its cores). */
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
/** Runs `f`, returning its result and the load average before and after it. */
async function withLoad<T>(f: () => Promise<T> | T): Promise<{ r: T; load: string }> {
  const before = load();
  const r = await f();
  return { r, load: `${before}->${load()}` };
}

/**
 * CPU seconds a process has used (user + system, all its threads: the fs thread pool too), from
 * /proc/<pid>/stat: steadier than requests/s when other work shares the cores.
 */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const store = mkdtempSync(join(tmpdir(), 'load-store-'));

async function timedStart(): Promise<{ server: LocalServer; ms: number }> {
  const t0 = performance.now();
  const server = await startLocalServer({ store });
  return { server, ms: performance.now() - t0 };
}

const first = await timedStart();
await first.server.stop('SIGTERM');
const { server, ms: restartMs } = await timedStart();
const url = new URL(server.url);
const key = readFileSync(join(store, 'api-key'), 'utf8').trim();
const target = (path: string): Target => ({
  host: url.hostname,
  port: Number(url.port),
  path,
  headers: { authorization: `Bearer ${key}` },
});

// One published version of a realistic size, written through the registry like a job would.
const registry = Registry.fromUri(server.registryUri);
const dir = mkdtempSync(join(tmpdir(), 'load-adapter-'));
const adapterFile = join(dir, 'adapter.safetensors');
writeFileSync(adapterFile, randomBytes(adapterBytes));
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

console.log(
  `local server ${server.url}, ${seconds} s per row, adapter ${(adapterBytes / 1e6).toFixed(1)} MB; load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
);
console.log(`ready: first start (seeds the base model) ${first.ms.toFixed(0)} ms, restart ${restartMs.toFixed(0)} ms`);
console.log();
console.log(
  `GET /adapters/:task, open loop over ${connections} keep-alive connections (latency from when each request was due; "sent": from when it was written)`,
);
console.log(`(requests unanswered ${seconds} s after the last was due are given up and count as infinitely late)`);
console.log(
  '| offered/s | answered/s | p50 ms | p99 ms | max ms | p50 / p99 ms from sent | server CPU ms/request | unanswered | non-2xx | errors | load |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
const pid = server.proc.pid!;
// Warm-up: the first requests compile the route's code.
await constantRate(target('/adapters/load'), { rate: 200, seconds: 1, connections, grace: seconds });
for (const rate of rates) {
  const cpu0 = cpuSeconds(pid);
  const { r, load: l } = await withLoad(() => constantRate(target('/adapters/load'), { rate, seconds, connections, grace: seconds }));
  const cpuMs = ((cpuSeconds(pid) - cpu0) * 1000) / r.completed;
  const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'unanswered');
  console.log(
    `| ${rate} | ${r.achieved.toFixed(0)} | ${ms(percentile(r.fromDue, 50))} | ${ms(percentile(r.fromDue, 99))} | ${ms(percentile(r.fromDue, 100))} | ${ms(percentile(r.fromSent, 50))} / ${ms(percentile(r.fromSent, 99))} | ${cpuMs.toFixed(3)} | ${r.unanswered} | ${r.non2xx} | ${r.errors} | ${l} |`,
  );
}

console.log();
console.log(
  `GET /adapters/:task/download, ${streams} streams fetching back to back (bodies counted, dropped), against the same file without the server`,
);
console.log('| what | MB/s | load |');
console.log('|---|---|---|');
const dlCpu0 = cpuSeconds(pid);
const dl = await withLoad(() => drain(target('/adapters/load/download'), { streams, seconds }));
const dlCpu = cpuSeconds(pid) - dlCpu0;
if (dl.r.non2xx > 0) throw new Error(`${dl.r.non2xx} downloads were not 2xx`);
console.log(`| download through the server (${dl.r.responses} downloads) | ${(dl.r.bytes / 1e6 / dl.r.seconds).toFixed(0)} | ${dl.load} |`);
console.log(
  `| the same, per CPU-second of the server (${dlCpu.toFixed(1)} s of CPU) | ${(dl.r.bytes / 1e6 / dlCpu).toFixed(0)} | ${dl.load} |`,
);

/** MB/s of `step` (which handles `bytes` each call) repeated for about a second. */
function rateOf(bytes: number, step: () => void): number {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 1000) {
    step();
    n++;
  }
  return (n * bytes) / 1e6 / ((performance.now() - t0) / 1000);
}
const buffer = Buffer.allocUnsafe(1024 * 1024);
const fsRead = await withLoad(() =>
  rateOf(adapterBytes, () => {
    const fd = openSync(adapterFile, 'r');
    while (readSync(fd, buffer) > 0);
    closeSync(fd);
  }),
);
console.log(`| the file read with fs.readSync, 1 MB at a time (page cache) | ${fsRead.r.toFixed(0)} | ${fsRead.load} |`);
const copies = 50;
const cat = await withLoad(() => {
  const t0 = performance.now();
  execFileSync('sh', ['-c', `cat ${Array(copies).fill(JSON.stringify(adapterFile)).join(' ')} > /dev/null`]);
  return (copies * adapterBytes) / 1e6 / ((performance.now() - t0) / 1000);
});
console.log(`| \`cat file > /dev/null\` (${copies} times in one cat) | ${cat.r.toFixed(0)} | ${cat.load} |`);
const bytes = readFileSync(adapterFile);
const sha = await withLoad(() => rateOf(adapterBytes, () => createHash('sha256').update(bytes).digest()));
console.log(`| sha256 of the file in memory (each download is checked against its manifest's) | ${sha.r.toFixed(0)} | ${sha.load} |`);
await server.stop('SIGTERM');
