/**
 * The figures of docs/reproduction.md (Houlsby et al. 2019's experiments at our scale), made with the
 * product's own commands on a base: adapter vs full fine-tuning vs head, each mode's hyperparameters picked
 * by a grid sweep on validation as the paper did, then scored on held-out rows (`trainer sweep` + `eval`);
 * robustness to the adapters' initialisation scale and to the bottleneck size (`trainer sweep`, mean and
 * spread over seeds); and the layer-ablation heat map (`trainer ablate`) of the bottleneck sweep's winner.
 * SST-2: 8,000 training sentences (10 % of them held out for choosing the best epoch and point), the 872
 * GLUE validation sentences for scoring and the ablation. Prints each command with its wall time and copies
 * the SVG and JSON results into --out. Nothing here is a test: it prints figures.
 *
 *   npx tsx test/bench/reproduction.ts --base assets/models/bert-imdb-4x128-v2 --out docs/reproduction
 *       [--seeds 1,2,3] [--grid-seeds 1,2] [--figures modes,init-std,bottleneck,ablation]
 *
 * Reads ../shared/data (team machines).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
    'grid-seeds': { type: 'string', default: '1,2' },
    figures: { type: 'string', default: 'modes,init-std,bottleneck,ablation' },
  },
});
if (!a.base || !a.out) throw new Error('--base DIR and --out DIR are required');
mkdirSync(a.out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'reproduction-'));
const sst2 = prepareHeldOut('sst2', join(work, 'data'));
const parallel = String(Math.min(2, availableParallelism()));

const wanted = new Set(a.figures!.split(','));
// What every run shares: the data and the shapes of the held-out table of docs/base-models.md.
const data = [
  '--base',
  a.base,
  '--data',
  sst2.train,
  '--validation-split',
  '0.1',
  '--task',
  'sst2',
  '--batch-size',
  '32',
  '--max-seq-len',
  '128',
  '--parallel',
  parallel,
];
// The robustness sweeps: the adapter of the held-out table of docs/base-models.md.
const common = [...data, '--mode', 'adapter', '--epochs', a.epochs!, '--lr', '1e-3', '--seeds', a.seeds!];

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

/** Copies a result's JSON and SVG into --out as <name>.json / <name>.svg (this run's temporary folder named $WORK). */
function keep(dir: string, kind: 'sweep' | 'ablation', name: string): void {
  for (const ext of ['json', 'svg'])
    writeFileSync(join(a.out!, `${name}.${ext}`), readFileSync(join(dir, `${kind}.${ext}`), 'utf8').replaceAll(work, '$WORK'));
}

// Adapter vs full vs head, each with its grid (the paper's: lr x epochs, and the bottleneck for adapters),
// the best point on validation scored once on the held-out sentences.
const GRIDS: Record<string, string[]> = {
  adapter: ['--grid', 'lr=1e-4,3e-4,1e-3', '--grid', 'bottleneck=8,64,256', '--grid', 'epochs=1,3'],
  full: ['--grid', 'lr=3e-5,1e-4,3e-4', '--grid', 'epochs=1,3'],
  head: ['--grid', 'lr=1e-3,3e-3,1e-2', '--grid', 'epochs=1,3'],
};
const heldOut: { mode: string; best: string; trainablePercent: number; validation: number; accuracy: number }[] = [];
if (wanted.has('modes')) {
  for (const [mode, grid] of Object.entries(GRIDS)) {
    const dir = join(work, `modes-${mode}`);
    run(`modes-${mode}`, ['sweep', ...data, '--mode', mode, '--seeds', a['grid-seeds']!, ...grid, '--out', dir]);
    keep(dir, 'sweep', `modes-${mode}`);
    const s = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as SweepJson;
    const best = s.points.find((p) => p.label === s.best?.label)!;
    const scored = JSON.parse(trainer(['eval', '--base', a.base, '--adapter', join(dir, 'best'), '--data', sst2.score])) as {
      accuracy: number;
    };
    heldOut.push({ mode, best: best.label, trainablePercent: best.trainablePercent!, validation: best.mean!, accuracy: scored.accuracy });
  }
}
const initStd = join(work, 'init-std');
if (wanted.has('init-std')) {
  run('init-std', ['sweep', ...common, '--bottleneck', '64', '--grid', 'init-std=1e-7,1e-5,1e-3,1e-2,1e-1,1', '--out', initStd]);
  keep(initStd, 'sweep', 'init-std');
}
const bottleneck = join(work, 'bottleneck');
if (wanted.has('bottleneck') || wanted.has('ablation')) {
  run('bottleneck', ['sweep', ...common, '--grid', 'bottleneck=2,8,64,256', '--out', bottleneck]);
  keep(bottleneck, 'sweep', 'bottleneck');
}
if (wanted.has('ablation')) {
  const ablation = join(work, 'ablation');
  run('ablation', ['ablate', '--base', a.base, '--adapter', join(bottleneck, 'best'), '--data', sst2.score, '--out', ablation]);
  keep(ablation, 'ablation', 'ablation');
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
if (heldOut.length > 0) {
  console.log(
    `\nEach mode's best point on validation (mean over seeds ${a['grid-seeds']}), scored on the ${sst2.scoreRows} held-out sentences\n`,
  );
  console.log('| mode | best point | trainable share | validation (mean) | held-out accuracy |');
  console.log('|---|---|---|---|---|');
  for (const r of heldOut)
    console.log(`| ${r.mode} | ${r.best} | ${r.trainablePercent.toFixed(2)} % | ${r.validation.toFixed(4)} | ${r.accuracy.toFixed(4)} |`);
}
for (const name of ['init-std', 'bottleneck'].filter((n) => wanted.has(n))) {
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
