/**
 * Serving adapters, side by side on this machine in one run, for a BERT-base-shaped random base (12 x 768,
 * 12 heads, 3072 intermediate, bert-base-uncased vocab; written to a temp dir, removed at the end) and the
 * shipped small base (assets/models/bert-imdb-4x128-v2):
 * - single-text p50/p99 latency and 32-text throughput through the runtime (createNodePredictor over a
 *   directory registry of adapters with random tensors);
 * - switching adapter between requests (A/B alternating vs the same adapter) against what a server with a
 *   session per adapter pays: creating an onnxruntime session of the adapter's baked `trainer export`;
 * - resident memory with 1, 10 and 100 adapters loaded vs the sum of the adapters' own bytes;
 * - PyTorch (test/bench/serving_torch.py: same shapes, same token ids, same threads) as the peer;
 * - the baked export f32 vs `--quantize int8` in plain onnxruntime-node on the same inputs.
 * Nothing is asserted. Each base runs in its own process (so its memory figures are its own).
 *
 *   node --import tsx test/bench/serving.ts [--quick] [--bases bert-base,small] [--threads 2]
 *        [--iterations 60] [--batch-iterations 5] [--adapters 1,10,100] [--no-torch]
 *
 * --quick: the shipped base only, 20 single-text and 2 batch iterations, 1 and 10 adapters.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { createNodePredictor } from '../../serving/node.ts';
import { Registry } from '../../shared/registry/index.ts';
import { readAdapterDir } from '../../trainer/model-files/adapter-dir.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { buildOnnxModel } from '../../trainer/model-files/onnx-package.ts';
import { writeRandomBert } from '../../trainer/model-files/random-bert.ts';
import { loadBertTokenizer } from '../../trainer/tokenizer/bert-tokenizer.ts';
import type { Encoding } from '../../trainer/tokenizer/bert-tokenizer-core.ts';
import { PYTHON } from '../support/python-torch.ts';
import { publishRandomAdapter } from '../support/serving-store.ts';
import { benchArgs, runJson, teamData } from './support.ts';

const a = benchArgs(
  {
    bases: 'bert-base,small',
    threads: '2',
    iterations: '60',
    'batch-iterations': '5',
    adapters: '1,10,100',
    'max-seq-len': '128',
    child: '',
    dir: '',
  },
  ['quick', 'no-torch'] as const,
);
const SELF = fileURLToPath(import.meta.url);
const SHIPPED = resolve('assets/models/bert-imdb-4x128-v2');
const SST2 = resolve(teamData('glue', 'sst2', 'validation.jsonl'));
const BATCH = 32;

/** The middle of the sorted samples at quantile q. */
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const ms = (x: number) => +x.toFixed(2);

/** What one base's process prints (last JSON line). */
interface BaseResult {
  base: string;
  shape: string;
  baseBytes: number;
  adapterBytes: number;
  bottleneck: number;
  runtime: { p50: number; p99: number; batchRowsPerSec: number; batchMs: number };
  switching: { sameP50: number; alternateP50: number; costMs: number; sessionCreateMs: number[] };
  memory: { adapters: number; rssMB: number; deltaMB: number; adapterMB: number; ratio: number }[];
  rssBaseMB: number;
  export: Record<'f32' | 'int8', { bytes: number; p50: number; batchRowsPerSec: number }> & {
    int8MaxLogitDiff: number;
    runtimeMaxProbDiff: number;
  };
  torch: { p50: number; p99: number; batchRowsPerSec: number; blas: string; config: string; threads: number; torch: string } | null;
}

if (a.child) {
  console.log(JSON.stringify(await measureBase(a.child, a.dir)));
} else {
  await main();
}

async function main(): Promise<void> {
  const quick = a.quick;
  const bases = quick ? ['small'] : a.bases.split(',');
  const work = mkdtempSync(join(tmpdir(), 'bench-serving-'));
  const results: BaseResult[] = [];
  try {
    for (const name of bases) {
      let dir = SHIPPED;
      if (name === 'bert-base') {
        dir = join(work, 'bert-base');
        const t = performance.now();
        writeRandomBert(dir, {
          hiddenSize: 768,
          numLayers: 12,
          numHeads: 12,
          intermediateSize: 3072,
          maxPositions: 512,
          vocabFile: resolve('assets/bert-base-uncased/vocab.txt'),
          seed: 1,
        });
        console.error(`wrote a random BERT-base in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      } else if (name !== 'small') throw new Error(`--bases: unknown base "${name}" (bert-base or small)`);
      const args = [
        '--expose-gc',
        '--import',
        'tsx',
        SELF,
        '--child',
        name,
        '--dir',
        dir,
        '--threads',
        a.threads,
        '--max-seq-len',
        a['max-seq-len'],
      ];
      args.push('--iterations', quick ? '20' : a.iterations, '--batch-iterations', quick ? '2' : a['batch-iterations']);
      args.push('--adapters', quick ? '1,10' : a.adapters);
      if (a['no-torch']) args.push('--no-torch');
      console.error(`measuring ${name} ...`);
      results.push(runJson<BaseResult>(process.execPath, args));
      if (name === 'bert-base') rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  printTable(results);
  console.log(JSON.stringify({ threads: Number(a.threads), results }));
}

function printTable(results: BaseResult[]): void {
  const cols = results.map((r) => `${r.base} (${r.shape})`);
  const row = (label: string, f: (r: BaseResult) => string) => console.log(`| ${label} | ${results.map(f).join(' | ')} |`);
  console.log(`\nonnxruntime-node ${ort.env.versions.common}, ${a.threads} threads for every engine; texts from SST-2 validation`);
  console.log(`| | ${cols.join(' | ')} |`);
  console.log(`|---|${cols.map(() => '---').join('|')}|`);
  row(
    'base weights (f32) / one adapter',
    (r) => `${(r.baseBytes / 1e6).toFixed(1)} MB / ${(r.adapterBytes / 1e6).toFixed(2)} MB (bottleneck ${r.bottleneck})`,
  );
  row('runtime: 1 text p50 / p99', (r) => `${r.runtime.p50} / ${r.runtime.p99} ms`);
  row(`runtime: ${BATCH} texts`, (r) => `${r.runtime.batchMs} ms (${r.runtime.batchRowsPerSec.toFixed(0)} texts/s)`);
  row('PyTorch: 1 text p50 / p99', (r) => (r.torch ? `${r.torch.p50} / ${r.torch.p99} ms` : '-'));
  row(`PyTorch: ${BATCH} texts`, (r) => (r.torch ? `${r.torch.batchRowsPerSec.toFixed(0)} texts/s` : '-'));
  row(
    'switch adapter: A/B vs same, p50',
    (r) => `${r.switching.alternateP50} vs ${r.switching.sameP50} ms (${r.switching.costMs >= 0 ? '+' : ''}${r.switching.costMs} ms)`,
  );
  row('a session per adapter: create', (r) => `${ms(quantile(r.switching.sessionCreateMs, 0.5))} ms`);
  row('RSS: base + session + 1 adapter', (r) => `${r.rssBaseMB} MB`);
  const counts = [...new Set(results.flatMap((r) => r.memory.map((m) => m.adapters)))].filter((n) => n > 1);
  for (const n of counts)
    row(`RSS growth, 1 -> ${n} adapters (vs their bytes)`, (r) => {
      const m = r.memory.find((x) => x.adapters === n);
      return m ? `+${m.deltaMB.toFixed(1)} MB vs ${m.adapterMB.toFixed(1)} MB (x${m.ratio.toFixed(2)})` : '-';
    });
  row('export f32: 1 text p50 / 32 texts', (r) => `${r.export.f32.p50} ms / ${r.export.f32.batchRowsPerSec.toFixed(0)} texts/s`);
  row('export int8: 1 text p50 / 32 texts', (r) => `${r.export.int8.p50} ms / ${r.export.int8.batchRowsPerSec.toFixed(0)} texts/s`);
  row('model.onnx f32 / int8', (r) => `${(r.export.f32.bytes / 1e6).toFixed(1)} / ${(r.export.int8.bytes / 1e6).toFixed(1)} MB`);
  row('int8 max abs logit diff vs f32', (r) => r.export.int8MaxLogitDiff.toExponential(1));
  row('runtime vs f32 export, max abs prob diff', (r) => r.export.runtimeMaxProbDiff.toExponential(1));
  const t = results.find((r) => r.torch)?.torch;
  if (t) console.log(`\nPyTorch ${t.torch}, ${t.threads} threads, BLAS: ${t.blas}\n${t.config}`);
}

/** Collects garbage (the child runs with --expose-gc) and reads the resident set. */
function rssMB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run the per-base child with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().rss / 2 ** 20;
}

function ortFeeds(rows: readonly Encoding[], padId: number): Record<string, ort.Tensor> {
  const B = rows.length;
  const S = rows.reduce((m, r) => Math.max(m, r.inputIds.length), 0);
  const ids = new BigInt64Array(B * S).fill(BigInt(padId));
  const mask = new BigInt64Array(B * S);
  const types = new BigInt64Array(B * S);
  rows.forEach((r, b) =>
    r.inputIds.forEach((id, s) => {
      ids[b * S + s] = BigInt(id);
      mask[b * S + s] = 1n;
      types[b * S + s] = BigInt(r.tokenTypeIds[s]);
    }),
  );
  return {
    input_ids: new ort.Tensor('int64', ids, [B, S]),
    attention_mask: new ort.Tensor('int64', mask, [B, S]),
    token_type_ids: new ort.Tensor('int64', types, [B, S]),
  };
}

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

async function measureBase(name: string, dir: string): Promise<BaseResult> {
  const threads = Number(a.threads);
  const iterations = Number(a.iterations);
  const batchIterations = Number(a['batch-iterations']);
  const counts = a.adapters.split(',').map(Number);
  const maxSeqLen = Number(a['max-seq-len']);
  const work = mkdtempSync(join(tmpdir(), `bench-serving-${name}-`));
  try {
    // 1. Adapters with random tensors, published to a directory store; the first one exported baked, f32 and int8.
    let base: ReturnType<typeof loadBaseModel> | null = loadBaseModel(dir);
    const c = base.config;
    const shape = `${c.num_hidden_layers} x ${c.hidden_size}, ${c.num_attention_heads} heads`;
    const bottleneck = c.hidden_size >= 768 ? 64 : 16;
    const registry = Registry.fromUri(pathToFileURL(join(work, 'store')).href);
    const tasks: string[] = [];
    let adapterBytes = 0;
    const maxCount = counts.reduce((m, v) => Math.max(m, v), 2);
    for (let i = 0; i < maxCount; i++) {
      const task = `bench-${i}`;
      const out = join(work, 'adapters', task);
      mkdirSync(join(work, 'adapters'), { recursive: true });
      const { manifest } = await publishRandomAdapter(
        registry,
        name,
        base,
        out,
        { task, mode: 'adapter', labels: 2, bottleneck, seed: i + 1 },
        maxSeqLen,
      );
      if (i > 0) rmSync(out, { recursive: true });
      tasks.push(task);
      adapterBytes = manifest.files.find((f) => f.name === 'adapter.safetensors')!.bytes;
    }
    const exported: Record<'f32' | 'int8', string> = { f32: join(work, 'f32.onnx'), int8: join(work, 'int8.onnx') };
    const adapter0 = readAdapterDir(join(work, 'adapters', tasks[0]), base);
    writeFileSync(exported.f32, buildOnnxModel(base, adapter0, {}).model);
    writeFileSync(exported.int8, buildOnnxModel(base, adapter0, { quantize: 'int8' }).model);
    let baseBytes = 0; // as float32 in memory (the shipped base's file is F16)
    for (const w of base.weights.values()) baseBytes += w.data.length * 4;
    const pooler = base.hasPooler;
    base = null; // this process's copy of the weights goes before memory is measured (the worker has its own)

    const tokenizer = await loadBertTokenizer(dir, { maxSeqLen });
    const texts = readFileSync(SST2, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { text: string }).text);
    const single = texts.slice(0, iterations);
    const batch = texts.slice(iterations, iterations + BATCH);
    while (single.length < iterations) single.push(...texts.slice(0, iterations - single.length));

    // 2. The runtime: base + session + the first adapter, then more adapters.
    const rss0 = rssMB();
    const predictor = await createNodePredictor({
      registry,
      threads,
      baseDir: async () => dir,
      cacheBytes: 16 * 2 ** 30,
      maxWaitMs: 0, // a lone request runs at once (the default since issue 26: no idle window)
    });
    await predictor.predict({ task: tasks[0], inputs: [single[0]] });
    const rss1 = rssMB();
    const memory: BaseResult['memory'] = [];
    let loaded = 1;
    for (const n of counts.filter((n) => n > 1).sort((x, y) => x - y)) {
      for (; loaded < n; loaded++) await predictor.predict({ task: tasks[loaded], inputs: [single[0]] });
      const rss = rssMB();
      const adapterMB = ((n - 1) * adapterBytes) / 2 ** 20;
      memory.push({ adapters: n, rssMB: Math.round(rss), deltaMB: rss - rss1, adapterMB, ratio: (rss - rss1) / adapterMB });
    }
    console.error(`${name}: memory ${JSON.stringify(memory)}; cache holds ${(predictor.cache.bytes / 2 ** 20).toFixed(1)} MiB`);

    // 3. Latency and throughput.
    const lat: number[] = [];
    for (const text of single) lat.push((await timed(() => predictor.predict({ task: tasks[0], inputs: [text] }))).ms);
    const batchTimes: number[] = [];
    let runtimeProbs: number[][] = [];
    await predictor.predict({ task: tasks[0], inputs: batch });
    for (let i = 0; i < batchIterations; i++) {
      const r = await timed(() => predictor.predict({ task: tasks[0], inputs: batch }));
      batchTimes.push(r.ms);
      runtimeProbs = r.value.predictions.map((p) => Object.values(p.probs));
    }
    const batchMs = quantile(batchTimes, 0.5);

    // 4. Switching adapters: the same text, blocks of A,A,A,... and A,B,A,B,... interleaved against drift.
    await predictor.predict({ task: tasks[1], inputs: [single[0]] });
    const same: number[] = [];
    const alternate: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < iterations / 2; i++)
        same.push((await timed(() => predictor.predict({ task: tasks[0], inputs: [single[0]] }))).ms);
      for (let i = 0; i < iterations / 2; i++)
        alternate.push((await timed(() => predictor.predict({ task: tasks[i % 2], inputs: [single[0]] }))).ms);
    }
    await predictor.close();
    const sameP50 = quantile(same, 0.5);
    const alternateP50 = quantile(alternate, 0.5);

    // 5. A session per adapter (the naive server), and the baked export f32 vs int8 in plain onnxruntime-node.
    const sessionOpts: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    };
    const sessionCreateMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await timed(() => ort.InferenceSession.create(exported.f32, sessionOpts));
      sessionCreateMs.push(r.ms);
      await r.value.release();
    }
    const enc = (t: string) => tokenizer.encode(t);
    const exportResult = {} as BaseResult['export'];
    const logitsOf: Record<string, Float32Array> = {};
    for (const kind of ['f32', 'int8'] as const) {
      const session = await ort.InferenceSession.create(exported[kind], sessionOpts);
      const batchFeeds = ortFeeds(batch.map(enc), tokenizer.padId);
      await session.run(batchFeeds);
      const times: number[] = [];
      for (const text of single) {
        const feeds = ortFeeds([enc(text)], tokenizer.padId);
        times.push((await timed(() => session.run(feeds))).ms);
      }
      const bt: number[] = [];
      for (let i = 0; i < batchIterations; i++) {
        const r = await timed(() => session.run(batchFeeds));
        bt.push(r.ms);
        logitsOf[kind] = r.value.logits.data as Float32Array;
      }
      await session.release();
      exportResult[kind] = {
        bytes: statSync(exported[kind]).size,
        p50: ms(quantile(times, 0.5)),
        batchRowsPerSec: (BATCH * 1000) / quantile(bt, 0.5),
      };
    }
    let int8Diff = 0;
    let probDiff = 0;
    logitsOf.f32.forEach((x, i) => {
      int8Diff = Math.max(int8Diff, Math.abs(x - logitsOf.int8[i]));
    });
    runtimeProbs.forEach((p, r) => {
      const l0 = logitsOf.f32[2 * r];
      const l1 = logitsOf.f32[2 * r + 1];
      const p1 = 1 / (1 + Math.exp(l0 - l1));
      probDiff = Math.max(probDiff, Math.abs(p[1] - p1), Math.abs(p[0] - (1 - p1)));
    });
    exportResult.int8MaxLogitDiff = int8Diff;
    exportResult.runtimeMaxProbDiff = probDiff;

    // 6. PyTorch on the same token ids, same shapes, same threads.
    let torch: BaseResult['torch'] = null;
    if (!a['no-torch']) {
      const inputs = join(work, 'inputs.json');
      writeFileSync(inputs, JSON.stringify({ single: single.map((t) => enc(t).inputIds), batch: batch.map((t) => enc(t).inputIds) }));
      const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
      if (probe.status === 0) {
        torch = runJson(PYTHON, [
          join(import.meta.dirname, 'serving_torch.py'),
          ...['--config', join(dir, 'config.json'), '--inputs', inputs, '--threads', a.threads, '--bottleneck', String(bottleneck)],
          ...['--batch-iterations', a['batch-iterations'], '--pooler', pooler ? '1' : '0'],
        ]);
      } else console.error(`no PyTorch peer: ${probe.stderr.trim().split('\n').at(-1)}`);
    }

    return {
      base: name,
      shape,
      baseBytes,
      adapterBytes,
      bottleneck,
      runtime: {
        p50: ms(quantile(lat, 0.5)),
        p99: ms(quantile(lat, 0.99)),
        batchRowsPerSec: (BATCH * 1000) / batchMs,
        batchMs: ms(batchMs),
      },
      switching: {
        sameP50: ms(sameP50),
        alternateP50: ms(alternateP50),
        costMs: ms(alternateP50 - sameP50),
        sessionCreateMs: sessionCreateMs.map(ms),
      },
      memory,
      rssBaseMB: Math.round(rss1 - rss0),
      export: exportResult,
      torch,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
