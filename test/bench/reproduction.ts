/**
 * The figures of docs/reproduction.md (Houlsby et al. 2019's experiments at our scale), made with the
 * product's own commands on a base: robustness to the adapters' initialisation scale and to the bottleneck
 * size (`trainer sweep`, mean and spread over seeds), and the layer-ablation heat map (`trainer ablate`) of
 * the bottleneck-64 winner. SST-2: 8,000 training sentences (10 % of them held out for choosing the best
 * epoch and point), the 872 GLUE validation sentences for the ablation. Prints each command with its
 * wall time and copies the SVG and JSON results into --out. Nothing here is a test: it prints figures.
 *
 *   npx tsx test/bench/reproduction.ts --base assets/models/bert-imdb-4x128 --out docs/reproduction [--seeds 1,2,3]
 *
 * Reads ../shared/data (team machines).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { prepareHeldOut, trainer } from './heldout.ts';

const { values: a } = parseArgs({
  options: {
    base: { type: 'string' },
    out: { type: 'string' },
    seeds: { type: 'string', default: '1,2,3' },
    epochs: { type: 'string', default: '1' },
  },
});
if (!a.base || !a.out) throw new Error('--base DIR and --out DIR are required');
mkdirSync(a.out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'reproduction-'));
const sst2 = prepareHeldOut('sst2', join(work, 'data'));
const parallel = String(Math.min(2, availableParallelism()));

// What every run shares: the adapter setup of the README's held-out table.
const common = [
  '--base',
  a.base,
  '--data',
  sst2.train,
  '--validation-split',
  '0.1',
  '--task',
  'sst2',
  '--mode',
  'adapter',
  '--epochs',
  a.epochs,
  '--batch-size',
  '32',
  '--max-seq-len',
  '128',
  '--lr',
  '1e-3',
  '--seeds',
  a.seeds,
  '--parallel',
  parallel,
];

interface Figure {
  name: string;
  command: string[];
  seconds: number;
}
const figures: Figure[] = [];
function run(name: string, args: string[]): void {
  const started = Date.now();
  trainer([...args, '--quiet']);
  figures.push({ name, command: args, seconds: (Date.now() - started) / 1000 });
  console.error(`${name}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

const initStd = join(work, 'init-std');
run('init-std', ['sweep', ...common, '--bottleneck', '64', '--grid', 'init-std=1e-7,1e-5,1e-3,1e-2,1e-1,1', '--out', initStd]);
const bottleneck = join(work, 'bottleneck');
run('bottleneck', ['sweep', ...common, '--grid', 'bottleneck=2,8,64,256', '--out', bottleneck]);
const ablation = join(work, 'ablation');
run('ablation', ['ablate', '--base', a.base, '--adapter', join(bottleneck, 'best'), '--data', sst2.score, '--out', ablation]);

for (const [dir, files, prefix] of [
  [initStd, ['sweep.json', 'sweep.svg'], 'init-std'],
  [bottleneck, ['sweep.json', 'sweep.svg'], 'bottleneck'],
  [ablation, ['ablation.json', 'ablation.svg'], 'ablation'],
] as const) {
  for (const f of files) copyFileSync(join(dir, f), join(a.out, `${prefix}.${f.split('.').pop()}`));
}

interface SweepJson {
  points: {
    label: string;
    mean: number | null;
    std: number | null;
    min: number | null;
    max: number | null;
    trainablePercent: number | null;
  }[];
  best: { label: string } | null;
}
for (const name of ['init-std', 'bottleneck']) {
  const s = JSON.parse(readFileSync(join(a.out, `${name}.json`), 'utf8')) as SweepJson;
  console.log(`\n${name} (SST-2, validation accuracy over seeds ${a.seeds}; best: ${s.best?.label ?? 'none'})\n`);
  console.log('| point | trainable share | mean | std | min | max |');
  console.log('|---|---|---|---|---|---|');
  for (const p of s.points) {
    const f = (v: number | null) => (v === null ? '-' : v.toFixed(4));
    console.log(`| ${p.label} | ${p.trainablePercent?.toFixed(2) ?? '-'} % | ${f(p.mean)} | ${f(p.std)} | ${f(p.min)} | ${f(p.max)} |`);
  }
}
console.log('\nCommands (data: the SST-2 slices of test/bench/heldout.ts), wall time on this machine:\n');
for (const f of figures) console.log(`- ${f.name} (${f.seconds.toFixed(0)} s): npm run --silent trainer -- ${f.command.join(' ')}`);
