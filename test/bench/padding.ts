/**
 * Epoch time on SST-2 with dynamic padding + length bucketing against fixed padding to 128 tokens (what a
 * plain script does), same model, data and step count. Prints seconds per step, the projected epoch time
 * and the gain.
 *
 *   npx tsx test/bench/padding.ts [--steps 300] [--mode adapter]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRandomBert } from '../../trainer/model-files/random-bert.ts';
import { flags } from '../support/process.ts';
import { benchArgs, teamData } from './support.ts';

const a = benchArgs({ steps: '300', mode: 'adapter', hidden: '128', layers: '4' });
const data = teamData('glue', 'sst2', 'train.jsonl');
const rows = readFileSync(data, 'utf8').trim().split('\n').length;
const work = mkdtempSync(join(tmpdir(), 'padding-'));
const base = join(work, 'base');
const hidden = Number(a.hidden);
writeRandomBert(base, {
  hiddenSize: hidden,
  numLayers: Number(a.layers),
  numHeads: hidden / 32,
  intermediateSize: 4 * hidden,
  maxPositions: 512,
  vocabFile: join('assets', 'bert-base-uncased', 'vocab.txt'),
  seed: 7,
});

const configs: [string, string[]][] = [
  ['fixed 128', ['--pad-to', '128', '--no-bucketing']],
  ['dynamic, random batches', ['--no-bucketing']],
  ['dynamic + length bucketing (default)', []],
];
const results: { name: string; secPerStep: number }[] = [];
for (const [name, extra] of configs) {
  const out = join(work, `out-${results.length}`);
  const r = spawnSync(
    process.execPath,
    [
      ...['--import', 'tsx', 'trainer/cli.ts', 'train', '--base', base, '--data', data, '--out', out],
      ...flags(`--mode ${a.mode} --max-seq-len 128 --batch-size 32 --max-steps ${a.steps} --quiet`),
      ...extra,
    ],
    { stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } },
  );
  if (r.status !== 0) throw new Error(`${name} failed`);
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  results.push({ name, secPerStep: m.secondsPerStep });
}
const stepsPerEpoch = Math.ceil(rows / 32);
console.log(
  `\nSST-2 train (${rows} rows, ${stepsPerEpoch} steps/epoch at batch 32), ${a.mode} mode, random BERT ${a.layers} x ${hidden}, max-seq-len 128, ${a.steps} steps each\n`,
);
console.log('| padding | s/step | projected epoch | vs fixed 128 |');
console.log('|---|---|---|---|');
for (const r of results) {
  const epoch = r.secPerStep * stepsPerEpoch;
  console.log(
    `| ${r.name} | ${r.secPerStep.toFixed(4)} | ${(epoch / 60).toFixed(1)} min | ${(results[0].secPerStep / r.secPerStep).toFixed(2)}x faster |`,
  );
}
