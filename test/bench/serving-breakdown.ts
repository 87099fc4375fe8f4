/**
 * Where a predict's time goes in the runtime (issue 26's breakdown): the shipped small base
 * (assets/models/bert-imdb-4x128-v2), one adapter of random tensors (bottleneck 64), sequential one-text
 * requests and then 32-text requests, through createNodePredictor with its tracer on (serving/trace.ts).
 * Prints, per span, the median and mean milliseconds per request (spans of a run once per run: here
 * one run per request), the end-to-end median, and the load average beside them: on shared cores the
 * absolute figures move; compare ratios of back-to-back runs. Nothing is asserted.
 *
 * With --route, the same requests then go to the app's predict route in-process (createApp over the same
 * predictor, `app.request`: routing, auth, validation, JSON, no sockets) and to `npm start`'s over HTTP (its
 * own process, the same threads): in-process minus library is what the app adds, HTTP minus in-process
 * what the sockets and the HTTP client and server add. Over HTTP twice: with fetch (undici, as a Node
 * caller would) and with a lean keep-alive client (test/bench/load-client.ts: prepared bytes, the answer
 * read only to its end), whose difference is the client's own cost on these shared cores. With the lean
 * client the server's CPU per request is printed too (from /proc: its main thread, where HTTP, the app
 * and tokenization run, and the whole process, the inference worker's session included): steadier than
 * latencies when other work shares the cores. In-process, the app's own spans are printed too
 * (functions/http/route-trace.ts: log, auth, body read + parse + validation, checks, the predictor call,
 * the response); each request sends its Content-Length, as an HTTP client does.
 *
 * --base bert-base: a random BERT-base-shaped base instead (12 x 768, 12 heads, 3072 intermediate, the
 * bert-base-uncased vocab; written to a temp dir), library only.
 *
 *   node --import tsx test/bench/serving-breakdown.ts [--base small|bert-base] [--iterations 200] [--batch-iterations 20]
 *        [--threads 1] [--route]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createApp } from '../../functions/app.ts';
import { ROUTE_SPANS, type RouteSpan } from '../../functions/http/route-trace.ts';
import { SEED_MODEL, SEED_MODEL_DIR } from '../../functions/local/seed-model.ts';
import { createNodePredictor } from '../../serving/node.ts';
import type { Predictor } from '../../serving/predictor.ts';
import { SPANS, type Span } from '../../serving/trace.ts';
import { Registry } from '../../shared/registry/index.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { writeRandomBert } from '../../trainer/model-files/random-bert.ts';
import { idleLauncher } from '../support/idle-launcher.ts';
import { startLocalServer } from '../support/local-server.ts';
import { publishRandomAdapter } from '../support/serving-store.ts';
import { requestBytes, sequentialClient } from './load-client.ts';
import { benchArgs } from './support.ts';

const a = benchArgs({ base: 'small', iterations: '200', 'batch-iterations': '20', threads: '1' }, ['route'] as const);
if (a.base !== 'small' && a.base !== 'bert-base') throw new Error(`--base: "${a.base}" is not small or bert-base`);
if (a.base !== 'small' && a.route) throw new Error('--route serves the shipped base only (npm start seeds it)');
const NAME = a.base === 'small' ? SEED_MODEL : 'bert-base-random';
const TEXTS = [
  'a warm, funny and moving film',
  'the plot drags and the jokes fall flat',
  'not a minute too long, and every scene earns its place',
  'I wanted to like it, but the ending ruined everything',
];

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();
const ONE = (i: number) => [TEXTS[i % TEXTS.length]];
const BATCH = (i: number) => Array.from({ length: 32 }, (_, k) => TEXTS[(i + k) % TEXTS.length]);
const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)];
};
const mean = (xs: number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((x, y) => x + y, 0) / xs.length);

const work = mkdtempSync(join(tmpdir(), 'serving-breakdown-'));
try {
  const registry = Registry.fromUri(pathToFileURL(join(work, 'store')).href);
  let dir = SEED_MODEL_DIR;
  if (a.base === 'bert-base') {
    dir = join(work, 'bert-base');
    writeRandomBert(dir, {
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      intermediateSize: 3072,
      maxPositions: 512,
      vocabFile: resolve('assets/bert-base-uncased/vocab.txt'),
      seed: 1,
    });
  }
  const base = loadBaseModel(dir);
  await publishRandomAdapter(registry, NAME, base, join(work, 'adapter'), {
    task: 'bench',
    mode: 'adapter',
    labels: 2,
    bottleneck: 64,
    seed: 1,
  });
  let spans = new Map<Span, number[]>();
  const predictor = await createNodePredictor({
    registry,
    threads: Number(a.threads),
    baseDir: async () => dir,
    trace: (span, ms) => {
      const xs = spans.get(span) ?? [];
      xs.push(ms);
      spans.set(span, xs);
    },
  });
  const table = (label: string, n: number, inputs: (i: number) => string[]) => async () => {
    for (let i = 0; i < 10; i++) await predictor.predict({ task: 'bench', inputs: inputs(i) }); // warm-up
    spans = new Map();
    const total: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await predictor.predict({ task: 'bench', inputs: inputs(i) });
      total.push(performance.now() - t0);
    }
    console.log(`\n${a.base}, ${label}: ${n} sequential requests, ${a.threads} thread(s); loadavg ${loadavg()}`);
    console.log('| span | median ms | mean ms | count |\n| --- | --- | --- | --- |');
    // Each span's samples: one per request or run (here one run per request), `queue` one per row.
    for (const span of SPANS) {
      const xs = spans.get(span) ?? [];
      console.log(`| ${span} | ${median(xs).toFixed(3)} | ${mean(xs).toFixed(3)} | ${xs.length} |`);
    }
    console.log(`| end to end | ${median(total).toFixed(3)} | ${mean(total).toFixed(3)} | ${n} |`);
  };
  await table('one text', Number(a.iterations), ONE)();
  await table('32 texts', Number(a['batch-iterations']), BATCH)();
  if (a.route) await inApp(registry, predictor);
  await predictor.close();
  if (a.route) await overHttp(base);
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** CPU milliseconds (user + system) a process, or one of its threads, has used so far, from /proc. */
function cpuMs(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Medians of `n` sequential calls of `once(i)`, after 10 to warm up (`measured` called between them). */
async function timed(label: string, n: number, once: (i: number) => Promise<void>, measured = () => {}): Promise<void> {
  for (let i = 0; i < 10; i++) await once(i);
  measured();
  const total: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once(i);
    total.push(performance.now() - t0);
  }
  console.log(
    `\n${label}: ${n} sequential requests; end to end median ${median(total).toFixed(3)} ms, mean ${mean(total).toFixed(3)} ms; loadavg ${loadavg()}`,
  );
}

/** The same requests through the app's route in-process: no sockets. */
async function inApp(registry: Registry, predictor: Predictor): Promise<void> {
  const KEY = 'bench-key';
  let routeSpans = new Map<RouteSpan, number[]>();
  const app = createApp({
    routeTrace: (span, ms) => {
      const xs = routeSpans.get(span) ?? [];
      xs.push(ms);
      routeSpans.set(span, xs);
    },
    registry,
    launcher: idleLauncher,
    apiKeys: [KEY],
    allowedDatasetBuckets: [],
    defaultBaseModel: NAME,
    downloads: 'stream',
    log: () => {},
    predictor,
  });
  for (const [label, n, inputs] of [
    ['app in-process, one text', Number(a.iterations), ONE],
    ['app in-process, 32 texts', Number(a['batch-iterations']), BATCH],
  ] as const) {
    await timed(
      label,
      n,
      async (i) => {
        const body = JSON.stringify({ inputs: inputs(i) });
        const headers = {
          authorization: `Bearer ${KEY}`,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
        };
        const res = await app.request('/adapters/bench/predict', { method: 'POST', headers, body });
        if (res.status !== 200) throw new Error(`predict: HTTP ${res.status}: ${await res.text()}`);
        await res.json();
      },
      () => (routeSpans = new Map()),
    );
    console.log('| app span | median ms | mean ms | count |\n| --- | --- | --- | --- |');
    for (const span of ROUTE_SPANS) {
      const xs = routeSpans.get(span) ?? [];
      console.log(`| ${span} | ${median(xs).toFixed(3)} | ${mean(xs).toFixed(3)} | ${xs.length} |`);
    }
  }
}

/** The same requests through `npm start`'s predict route: end-to-end medians over HTTP. */
async function overHttp(base: ReturnType<typeof loadBaseModel>): Promise<void> {
  const store = join(work, 'server');
  const server = await startLocalServer({ store, env: { ADAPTER_STORE_THREADS: a.threads } });
  try {
    const key = readFileSync(join(store, 'api-key'), 'utf8').trim();
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    await publishRandomAdapter(Registry.fromUri(server.registryUri), NAME, base, join(work, 'adapter-http'), {
      task: 'bench',
      mode: 'adapter',
      labels: 2,
      bottleneck: 64,
      seed: 1,
    });
    const predict = async (inputs: string[]) => {
      const res = await fetch(`${server.url}/adapters/bench/predict`, { method: 'POST', headers, body: JSON.stringify({ inputs }) });
      if (res.status !== 200) throw new Error(`predict: HTTP ${res.status}: ${await res.text()}`);
      await res.json();
    };
    const { hostname, port } = new URL(server.url);
    const target = { host: hostname, port: Number(port), path: '/adapters/bench/predict', headers };
    const lean = sequentialClient(target);
    try {
      for (const [label, n, inputs] of [
        ['one text', Number(a.iterations), ONE],
        ['32 texts', Number(a['batch-iterations']), BATCH],
      ] as const) {
        await timed(`route over HTTP (fetch), ${label}`, n, (i) => predict(inputs(i)));
        const prepared = TEXTS.map((_, i) => requestBytes({ ...target, body: JSON.stringify({ inputs: inputs(i) }) }));
        const pid = server.proc.pid!;
        let cpu = { main: 0, all: 0 };
        await timed(
          `route over HTTP (lean keep-alive client), ${label}`,
          n,
          async (i) => {
            const status = await lean.send(prepared[i % prepared.length]);
            if (status !== 200) throw new Error(`predict: HTTP ${status}`);
          },
          () => (cpu = { main: cpuMs(pid, pid), all: cpuMs(pid) }),
        );
        const main = (cpuMs(pid, pid) - cpu.main) / n;
        const all = (cpuMs(pid) - cpu.all) / n;
        console.log(`server CPU per request: main thread ${main.toFixed(3)} ms, whole process ${all.toFixed(3)} ms`);
      }
    } finally {
      lean.close();
    }
  } finally {
    await server.stop('SIGTERM');
  }
}
