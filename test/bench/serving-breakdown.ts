/**
 * Where a predict's time goes in the runtime (issue 26's breakdown): the shipped small base
 * (assets/models/bert-imdb-4x128-v2), one adapter of random tensors (bottleneck 64), sequential one-text
 * requests and then 32-text requests, through createNodePredictor with its tracer on (serving/trace.ts).
 * Prints, per span, the median and mean milliseconds per request (spans of a run once per run: here
 * one run per request), the end-to-end median, and the load average beside them: on shared cores the
 * absolute figures move; compare ratios of back-to-back runs. Nothing is asserted.
 *
 *   node --import tsx test/bench/serving-breakdown.ts [--iterations 200] [--batch-iterations 20] [--threads 1]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createNodePredictor } from '../../serving/node.ts';
import { SPANS, type Span } from '../../serving/trace.ts';
import { Registry } from '../../shared/registry/index.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { publishRandomAdapter } from '../support/serving-store.ts';
import { benchArgs } from './support.ts';

const a = benchArgs({ iterations: '200', 'batch-iterations': '20', threads: '1' }, [] as const);
const SHIPPED = resolve('assets/models/bert-imdb-4x128-v2');
const NAME = 'bert-imdb-4x128-v2';
const TEXTS = [
  'a warm, funny and moving film',
  'the plot drags and the jokes fall flat',
  'not a minute too long, and every scene earns its place',
  'I wanted to like it, but the ending ruined everything',
];

const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)];
};
const mean = (xs: number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((x, y) => x + y, 0) / xs.length);

const work = mkdtempSync(join(tmpdir(), 'serving-breakdown-'));
try {
  const registry = Registry.fromUri(pathToFileURL(join(work, 'store')).href);
  const base = loadBaseModel(SHIPPED);
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
    baseDir: async () => SHIPPED,
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
    console.log(`\n${label}: ${n} sequential requests, ${a.threads} thread(s); loadavg ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    console.log('| span | median ms | mean ms | count |\n| --- | --- | --- | --- |');
    // Each span's samples: one per request or run (here one run per request), `queue` one per row.
    for (const span of SPANS) {
      const xs = spans.get(span) ?? [];
      console.log(`| ${span} | ${median(xs).toFixed(3)} | ${mean(xs).toFixed(3)} | ${xs.length} |`);
    }
    console.log(`| end to end | ${median(total).toFixed(3)} | ${mean(total).toFixed(3)} | ${n} |`);
  };
  await table('one text', Number(a.iterations), (i) => [TEXTS[i % TEXTS.length]])();
  await table('32 texts', Number(a['batch-iterations']), (i) => Array.from({ length: 32 }, (_, k) => TEXTS[(i + k) % TEXTS.length]))();
  await predictor.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}
