/**
 * What f16 storage and int8 quantization of an ONNX export cost and buy, on a real task: an adapter on
 * the shipped base (assets/models/bert-imdb-4x128-v2) trained on SST-2 (or given with --adapter), exported
 * f32 / f16 / int8 (per output channel, as `trainer export` writes it, and per tensor for comparison), each
 * run by plain onnxruntime-node over the GLUE validation split (the test set here; never used in training).
 *
 *   npx tsx test/bench/export-quality.ts [--adapter DIR] [--train-rows 8000] [--threads 1] [--batch 32]
 *
 * Prints per variant: model.onnx size, max |logit diff| vs f32, accuracy and its change, rows/s.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readAdapterDir } from '../../trainer/model-files/adapter-dir.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { buildOnnxModel } from '../../trainer/model-files/onnx-package.ts';
import { loadBertTokenizer } from '../../trainer/tokenizer/bert-tokenizer.ts';
import { Rng } from '../../trainer/util/random.ts';
import { benchArgs, teamData } from './support.ts';

const a = benchArgs({
  adapter: '',
  'train-rows': '8000',
  'max-seq-len': '64',
  epochs: '2',
  threads: '1',
  batch: '32',
  seed: '1',
  lr: '1e-3',
});
const base = join('assets', 'models', 'bert-imdb-4x128-v2');
const glue = teamData('glue', 'sst2');
const work = mkdtempSync(join(tmpdir(), 'export-quality-'));
const cliArgs = (args: string[]) => ['--import', 'tsx', 'trainer/cli.ts', ...args];
const runCli = (args: string[]) => {
  const r = spawnSync(process.execPath, cliArgs(args), {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
  if (r.status !== 0) throw new Error(`trainer ${args[0]} failed`);
};

let adapterDir = a.adapter;
if (!adapterDir) {
  // A seeded sample of the training split.
  const lines = readFileSync(join(glue, 'train.jsonl'), 'utf8').trim().split('\n');
  const rng = new Rng(Number(a.seed));
  for (let i = lines.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [lines[i], lines[j]] = [lines[j], lines[i]];
  }
  const train = join(work, 'train.jsonl');
  writeFileSync(train, `${lines.slice(0, Number(a['train-rows'])).join('\n')}\n`);
  adapterDir = join(work, 'adapter');
  const started = Date.now();
  runCli([
    'train',
    '--base',
    base,
    '--data',
    train,
    '--out',
    adapterDir,
    '--task',
    'sst2',
    '--labels',
    'negative,positive',
    '--max-seq-len',
    a['max-seq-len'],
    '--epochs',
    a.epochs,
    '--lr',
    a.lr,
    '--seed',
    a.seed,
    '--threads',
    a.threads,
    '--quiet',
  ]);
  console.error(`trained in ${((Date.now() - started) / 60000).toFixed(1)} min`);
}

const variants: { name: string; flags: string[]; perChannel?: boolean }[] = [
  { name: 'f32', flags: [] },
  { name: 'f16', flags: ['--dtype', 'f16'] },
  { name: 'int8', flags: ['--quantize', 'int8'] },
  { name: 'int8 per-tensor', flags: [], perChannel: false },
];
const paths = new Map<string, string>();
for (const v of variants) {
  const out = join(work, v.name.replace(/ /g, '-'));
  if (v.perChannel === false) {
    // Not a CLI option: built through the same function, to see whether per-channel scales pay.
    const baseModel = loadBaseModel(base);
    const { model } = buildOnnxModel(baseModel, readAdapterDir(adapterDir, baseModel), { quantize: 'int8', perChannel: false });
    writeFileSync(`${out}.onnx`, model);
    paths.set(v.name, `${out}.onnx`);
  } else {
    runCli(['export', '--base', base, '--adapter', adapterDir, '--out', out, ...v.flags]);
    paths.set(v.name, join(out, 'model.onnx'));
  }
}

// The test set, tokenized once, in batches padded to their longest row.
const config = JSON.parse(readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8')) as { labels: string[]; maxSeqLen: number };
const tokenizer = await loadBertTokenizer(base, { maxSeqLen: config.maxSeqLen });
const test = readFileSync(join(glue, 'validation.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { text: string; label: number });
const encoded = test.map((r) => tokenizer.encode(r.text));
const B = Number(a.batch);
const batches: Record<string, ort.Tensor>[] = [];
for (let i = 0; i < encoded.length; i += B) {
  const rows = encoded.slice(i, i + B);
  const S = rows.reduce((m, r) => Math.max(m, r.inputIds.length), 0);
  const ids = new BigInt64Array(rows.length * S);
  const mask = new BigInt64Array(rows.length * S);
  const types = new BigInt64Array(rows.length * S);
  rows.forEach((r, k) =>
    r.inputIds.forEach((id, t) => {
      ids[k * S + t] = BigInt(id);
      mask[k * S + t] = 1n;
      types[k * S + t] = BigInt(r.tokenTypeIds[t]);
    }),
  );
  const dims = [rows.length, S];
  batches.push({
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
    token_type_ids: new ort.Tensor('int64', types, dims),
  });
}

const results: { name: string; bytes: number; logits: Float32Array; rowsPerSec: number }[] = [];
for (const v of variants) {
  const path = paths.get(v.name)!;
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: Number(a.threads), graphOptimizationLevel: 'all' });
  await session.run(batches[0]); // warm-up
  const L = config.labels.length;
  const logits = new Float32Array(test.length * L);
  const started = performance.now();
  let offset = 0;
  for (const b of batches) {
    const out = await session.run(b);
    logits.set(out.logits.data as Float32Array, offset);
    offset += (out.logits.data as Float32Array).length;
  }
  const seconds = (performance.now() - started) / 1000;
  await session.release();
  results.push({ name: v.name, bytes: statSync(path).size, logits, rowsPerSec: test.length / seconds });
}

const L = config.labels.length;
const accuracy = (logits: Float32Array) =>
  test.filter((r, i) => {
    const row = Array.from(logits.subarray(i * L, (i + 1) * L));
    return row.reduce((best, v, k) => (v > row[best] ? k : best), 0) === r.label;
  }).length / test.length;
const ref = results[0];
const refAcc = accuracy(ref.logits);
console.log(
  `SST-2 validation (${test.length} rows), base ${base}, adapter ${adapterDir}, onnxruntime-node ${ort.env.versions.common}, ${a.threads} thread(s), batch ${B}`,
);
console.log('| export | model.onnx | max abs logit diff vs f32 | accuracy | change | rows/s |');
console.log('|---|---|---|---|---|---|');
for (const r of results) {
  let diff = 0;
  for (let i = 0; i < r.logits.length; i++) diff = Math.max(diff, Math.abs(r.logits[i] - ref.logits[i]));
  const acc = accuracy(r.logits);
  console.log(
    `| ${r.name} | ${(r.bytes / 1e6).toFixed(2)} MB | ${diff.toExponential(2)} | ${(100 * acc).toFixed(2)} % | ${(100 * (acc - refAcc)).toFixed(2)} pt | ${r.rowsPerSec.toFixed(0)} |`,
  );
}
console.log(JSON.stringify({ results: results.map(({ name, bytes, rowsPerSec }) => ({ name, bytes, rowsPerSec })), accuracy: refAcc }));
