/**
 * Where the local server's main thread spends a predict request (issue 26): `npm start`'s server run
 * under `node --cpu-prof` with a fresh store, one adapter of random tensors on the shipped base, and
 * POST /adapters/:task/predict (one text) at a constant offered rate from the lean open-loop client
 * (test/bench/load-client.ts). Prints the latency percentiles, the load average, where the profile was
 * written (open it in Chrome's DevTools) and the main thread's top frames by self time over the measured
 * window, in microseconds per request. The profiler samples every millisecond and, on busy shared cores,
 * charges a thread's preemption to the frame it was in (a syscall that wakes another thread, above all):
 * read the table as where to look, and measure a change with serving-breakdown.ts --route.
 *
 *   node --import tsx test/bench/route-profile.ts [--rate 100] [--seconds 10] [--top 30] [--out <dir>]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SEED_MODEL, SEED_MODEL_DIR } from '../../functions/local/seed-model.ts';
import { Registry } from '../../shared/registry/index.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { publishRandomAdapter } from '../support/serving-store.ts';
import { constantRate, percentile } from './load-client.ts';
import { benchArgs } from './support.ts';

const a = benchArgs({ rate: '100', seconds: '10', top: '30', out: '' });
const rate = Number(a.rate);
const seconds = Number(a.seconds);
for (const [name, v] of Object.entries({ rate, seconds, top: Number(a.top) }))
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
const REPO = resolve(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'route-profile-'));
const out = a.out === '' ? join(work, 'profile') : resolve(a.out);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

try {
  const store = join(work, 'store');
  const proc = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${out}`, '--import', 'tsx', 'functions/server.ts'], {
    cwd: REPO,
    env: { ...process.env, PORT: '0', ADAPTER_STORE_DIR: store, ADAPTER_STORE_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let banner = '';
  const url = await new Promise<{ api: string; registry: string }>((done, fail) => {
    proc.on('exit', (code) => fail(new Error(`server exited (${code}):\n${banner}`)));
    proc.stdout!.on('data', (d: Buffer) => {
      banner += d.toString();
      const m = /listening on (http:\/\/\S+)[\s\S]*registry: +(file:\S+)/.exec(banner);
      if (m) done({ api: m[1], registry: m[2] });
    });
  });
  proc.removeAllListeners('exit');
  const exited = new Promise<void>((done) => proc.on('exit', () => done()));
  proc.stdout!.resume();
  try {
    const key = readFileSync(join(store, 'api-key'), 'utf8').trim();
    await publishRandomAdapter(Registry.fromUri(url.registry), SEED_MODEL, loadBaseModel(SEED_MODEL_DIR), join(work, 'adapter'), {
      task: 'bench',
      mode: 'adapter',
      labels: 2,
      bottleneck: 64,
      seed: 1,
    });
    const { hostname, port } = new URL(url.api);
    const target = {
      host: hostname,
      port: Number(port),
      path: '/adapters/bench/predict',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: ['a warm, funny and moving film'] }),
    };
    await constantRate(target, { rate: 50, seconds: 1, connections: 4, grace: 10 }); // loads the base, warms up
    const from = monotonicMicros();
    const r = await constantRate(target, { rate, seconds, connections: 8, grace: seconds });
    const to = monotonicMicros();
    console.log(
      `${r.completed}/${r.due} answered (${r.non2xx} not 2xx) at ${rate}/s offered: p50 ${percentile(r.fromDue, 50).toFixed(2)} ms, p99 ${percentile(r.fromDue, 99).toFixed(2)} ms from due; loadavg ${loadavg()}`,
    );
    proc.kill('SIGTERM');
    await exited;
    topFrames(from, to, r.completed);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
} finally {
  if (a.out === '') rmSync(work, { recursive: true, force: true });
  else rmSync(join(work, 'store'), { recursive: true, force: true });
}

/** CLOCK_MONOTONIC in microseconds: the clock of V8's profile timestamps on Linux, shared across processes. */
function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** The main thread's profile (the first one written), its frames' self time within [from, to] (monotonic microseconds). */
function topFrames(from: number, to: number, requests: number): void {
  const file = readdirSync(out)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()[0];
  console.log(`profile: ${join(out, file)}${a.out === '' ? ' (removed at exit: pass --out to keep it)' : ''}`);
  const p = JSON.parse(readFileSync(join(out, file), 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  let t = p.startTime;
  const end = t + p.timeDeltas.reduce((x, y) => x + y, 0);
  if (p.startTime > from || end < to) throw new Error(`the profile (${p.startTime}..${end} µs) does not cover the window ${from}..${to}`);
  const self = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    if (t < from || t > to) continue;
    const f = byId.get(p.samples[i])!.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(`file://${REPO}/`, '')}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    self.set(name, (self.get(name) ?? 0) + p.timeDeltas[i]);
  }
  console.log(`| frame (main thread) | self µs per request |\n| --- | --- |`);
  for (const [name, us] of [...self].sort((x, y) => y[1] - x[1]).slice(0, Number(a.top)))
    console.log(`| ${name} | ${(us / requests).toFixed(1)} |`);
}
