/**
 * GLUE runs on the real data in ../shared/data/glue with a base model this script generates (a random
 * BERT with the real bert-base-uncased vocab: no pretrained weights exist offline). Trains `adapter`,
 * `head` and `full` on the same base and budget, and prints validation metrics beside the majority class.
 *
 *   npx tsx test/bench/glue.ts --task sst2 [--modes adapter,head,full] [--epochs 1] [--max-steps N]
 *   npx tsx test/bench/glue.ts --task cola --metric mcc
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeRandomBert } from '../../trainer/model-files/random-bert.ts';
import { teamData } from './support.ts';

const { values: a } = parseArgs({
  options: {
    task: { type: 'string', default: 'sst2' },
    modes: { type: 'string', default: 'adapter,head,full' },
    epochs: { type: 'string', default: '1' },
    'max-steps': { type: 'string' },
    'batch-size': { type: 'string', default: '32' },
    'max-seq-len': { type: 'string', default: '64' },
    hidden: { type: 'string', default: '128' },
    layers: { type: 'string', default: '4' },
    metric: { type: 'string', default: 'accuracy' },
    'adapter-lr': { type: 'string', default: '1e-3' },
    'head-lr': { type: 'string', default: '1e-3' },
    'full-lr': { type: 'string', default: '1e-4' },
    seed: { type: 'string', default: '1' },
    'init-range': { type: 'string', default: '0.02' },
  },
});

const dataDir = teamData('glue', a.task!);
const work = mkdtempSync(join(tmpdir(), `glue-${a.task}-`));
const base = join(work, 'base');
const hidden = Number(a.hidden);
writeRandomBert(base, {
  hiddenSize: hidden,
  numLayers: Number(a.layers),
  numHeads: Math.max(1, hidden / 32),
  intermediateSize: 4 * hidden,
  maxPositions: 512,
  vocabFile: join('assets', 'bert-base-uncased', 'vocab.txt'),
  seed: 7,
  initializerRange: Number(a['init-range']),
});

const validation = readFileSync(join(dataDir, 'validation.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { label: number });
const counts = new Map<number, number>();
for (const r of validation) counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
const majority = [...counts.values()].reduce((m, v) => Math.max(m, v), 0) / validation.length;

interface Best {
  accuracy: number;
  macroF1: number;
  mcc: number;
  loss: number;
}
const results: { mode: string; best: Best; firstLoss: number; lastLoss: number; minutes: number; trainable: number }[] = [];
for (const mode of a.modes!.split(',')) {
  const out = join(work, `adapter-${mode}`);
  const started = Date.now();
  const args = [
    '--import',
    'tsx',
    'trainer/cli.ts',
    'train',
    '--base',
    base,
    '--data',
    join(dataDir, 'train.jsonl'),
    '--validation',
    join(dataDir, 'validation.jsonl'),
    '--out',
    out,
    '--task',
    a.task!,
    '--mode',
    mode,
    '--epochs',
    a.epochs!,
    '--batch-size',
    a['batch-size']!,
    '--max-seq-len',
    a['max-seq-len']!,
    '--lr',
    a[`${mode}-lr` as 'adapter-lr']!,
    '--metric',
    a.metric!,
    '--seed',
    a.seed!,
    '--quiet',
  ];
  if (a['max-steps']) args.push('--max-steps', a['max-steps']);
  const r = spawnSync(process.execPath, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
  if (r.status !== 0) throw new Error(`train --mode ${mode} failed`);
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  const losses: number[] = m.steps.map((s: { loss: number }) => s.loss);
  const avg = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
  const window = Math.max(1, Math.floor(losses.length / 10));
  results.push({
    mode,
    best: m.best,
    firstLoss: avg(losses.slice(0, window)),
    lastLoss: avg(losses.slice(-window)),
    minutes: (Date.now() - started) / 60000,
    trainable: m.parameters.trainable,
  });
  console.error(`${mode}: ${JSON.stringify(m.best)}`);
}

console.log(
  `\n${a.task!.toUpperCase()} validation (${validation.length} rows), random BERT ${a.layers} x ${hidden} (init std ${a['init-range']}) with the bert-base-uncased vocab, ${a.epochs} epoch(s), batch ${a['batch-size']}, max-seq-len ${a['max-seq-len']}, seed ${a.seed}`,
);
console.log(`majority class: accuracy ${majority.toFixed(4)}, MCC 0\n`);
console.log('| mode | trainable params | accuracy | macro-F1 | MCC | train loss (first 10% -> last 10%) | minutes |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.mode} | ${r.trainable.toLocaleString('en-US')} | ${r.best.accuracy.toFixed(4)} | ${r.best.macroF1.toFixed(4)} | ${r.best.mcc.toFixed(4)} | ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)} | ${r.minutes.toFixed(1)} |`,
  );
}
