/**
 * The review's two abuse probes of issue 21 against `npm start`'s server (its own process, a fresh store
 * seeded with the shipped base), printing the server's RSS and /healthz latency while each runs, with the
 * load average. A probe, not a test: figures depend on the machine and what else runs on it.
 *
 *   mixed-batch:     one adapter of bottleneck 4,096 among 31 of bottleneck 64; ten rounds of 32
 *                    concurrent one-text predicts (one per adapter).
 *   abandoned-flood: 100 maximum-size predicts (32 texts filling the 64 KiB body limit) abandoned
 *                    after 200 ms; then a small predict.
 *
 *   node --import tsx test/bench/serving-abuse.ts [--rounds 10] [--flood 100]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SEED_MODEL, SEED_MODEL_DIR } from '../../functions/local/seed-model.ts';
import { Registry } from '../../shared/registry/index.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { startLocalServer } from '../support/local-server.ts';
import { publishRandomAdapter } from '../support/serving-store.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '10' }, flood: { type: 'string', default: '100' } },
});
const ROUNDS = Number(values.rounds);
const FLOOD = Number(values.flood);

const store = mkdtempSync(join(tmpdir(), 'serving-abuse-'));
const server = await startLocalServer({ store, env: { ADAPTER_STORE_THREADS: '2' } });
const key = readFileSync(join(store, 'api-key'), 'utf8').trim();
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const pid = server.proc.pid!;

const rssMb = (): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};
const la = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/**
 * Polls /healthz and RSS every 100 ms until stopped: the latencies and the largest RSS seen. This
 * (nearly idle) process's own event-loop delay is the control: what the machine's load alone costs.
 */
function watch() {
  const own = monitorEventLoopDelay({ resolution: 10 });
  own.enable();
  const latencies: number[] = [];
  let peakRss = rssMb();
  let on = true;
  let socketErrors = 0;
  const loop = (async () => {
    while (on) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${server.url}/healthz`);
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
      } catch {
        socketErrors++; // a pooled socket the server closed after an abandoned request: not a latency
      }
      peakRss = Math.max(peakRss, rssMb());
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    on = false;
    await loop;
    own.disable();
    latencies.sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
    const ownMax = own.max / 1e6;
    return { polls: latencies.length, p50: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? Number.NaN, peakRss, socketErrors, ownMax };
  };
}

const predict = (task: string, inputs: unknown[], signal?: AbortSignal) =>
  fetch(`${server.url}/adapters/${task}/predict`, { method: 'POST', headers, body: JSON.stringify({ inputs }), signal });

const fmt = (n: number) => n.toFixed(1);

try {
  const registry = Registry.fromUri(server.registryUri);
  const base = loadBaseModel(SEED_MODEL_DIR);
  const tasks = ['wide', ...Array.from({ length: 31 }, (_, i) => `narrow-${i}`)];
  for (const [i, task] of tasks.entries()) {
    const o = { task, mode: 'adapter' as const, labels: 2, bottleneck: i === 0 ? 4096 : 64, seed: i + 1 };
    await publishRandomAdapter(registry, SEED_MODEL, base, join(store, `adapter-${i}`), o);
  }
  // Warm up: the base and the session load once (not what the probe measures).
  await (await predict('narrow-0', ['warm up'])).arrayBuffer();
  console.log(`server pid ${pid}, RSS after warm-up ${fmt(rssMb())} MB, load average ${la()}`);

  {
    const rss0 = rssMb();
    const stop = watch();
    const t0 = performance.now();
    const statuses = new Map<number, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const res = await Promise.all(tasks.map((t) => predict(t, [`round ${round}: a gripping film`])));
      for (const r of res) {
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        await r.arrayBuffer();
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const h = await stop();
    console.log(
      `mixed-batch: ${ROUNDS} rounds of 32 in ${fmt(seconds)} s, statuses ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `RSS ${fmt(rss0)} -> peak ${fmt(h.peakRss)} -> after ${fmt(rssMb())} MB; ` +
        `/healthz p50 ${fmt(h.p50)} ms, p99 ${fmt(h.p99)} ms, max ${fmt(h.max)} ms over ${h.polls} polls (this probe's own event-loop delay max ${fmt(h.ownMax)} ms); load average ${la()}`,
    );
  }

  {
    // The largest body the API takes (64 KiB): 32 texts of ~1,990 characters of words (heavy to tokenize).
    const big = ' a gripping, beautifully shot film'.repeat(60).slice(0, 1990);
    const inputs = Array.from({ length: 32 }, () => big);
    const rss0 = rssMb();
    const stop = watch();
    const clients = Array.from({ length: FLOOD }, () => new AbortController());
    const statuses = new Map<string, number>();
    const flood = clients.map((c) =>
      predict('narrow-1', inputs, c.signal).then(
        async (r) => {
          statuses.set(String(r.status), (statuses.get(String(r.status)) ?? 0) + 1);
          await r.arrayBuffer().catch(() => {});
        },
        () => statuses.set('abandoned', (statuses.get('abandoned') ?? 0) + 1),
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    for (const c of clients) c.abort();
    await Promise.all(flood);
    // A later client, 100 ms after the flood went: it honours Retry-After if the server is still full.
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    const smallStatuses: number[] = [];
    for (;;) {
      const small = await predict('narrow-2', ['a small, legitimate predict']).catch(() => null);
      await small?.arrayBuffer();
      smallStatuses.push(small?.status ?? 0);
      if (small?.status !== 429 || smallStatuses.length >= 5) break;
      await new Promise((r) => setTimeout(r, 1000 * Number(small.headers.get('retry-after') ?? 1)));
    }
    const smallMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 1000)); // /healthz keeps being polled after the flood
    const h = await stop();
    console.log(
      `abandoned-flood: ${FLOOD} maximum-size predicts abandoned after 200 ms (${JSON.stringify(Object.fromEntries(statuses))}); ` +
        `small predict 100 ms later: ${smallStatuses.join(' then ')} in ${fmt(smallMs)} ms; RSS ${fmt(rss0)} -> peak ${fmt(h.peakRss)} MB; ` +
        `/healthz p50 ${fmt(h.p50)} ms, p99 ${fmt(h.p99)} ms, max ${fmt(h.max)} ms over ${h.polls} polls (${h.socketErrors} closed sockets; this probe's own event-loop delay max ${fmt(h.ownMax)} ms); load average ${la()}`,
    );
  }
} finally {
  await server.stop('SIGTERM');
  rmSync(store, { recursive: true, force: true });
}
