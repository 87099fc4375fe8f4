/**
 * What a base is worth downstream: trains `adapter` (bottleneck 64), `head` and `full` on a base and on a
 * random BERT of the same shape, and scores each on held-out rows it never saw (neither for training nor
 * for picking the best epoch). Prints a Markdown table: held-out accuracy, trainable share, seconds per run.
 *
 *   IMDB:  train on 2,000 rows of imdb/train (10 % of them held out to pick the best epoch),
 *          score 5,000 disjoint rows of imdb/train.
 *   SST-2: train on 8,000 rows of glue/sst2/train (10 % held out likewise), score the GLUE validation split.
 *
 *   npx tsx test/bench/base-quality.ts --base assets/models/<name> [--tasks imdb,sst2] [--modes adapter,head,full]
 *       [--bases trained,random] [--epochs-imdb 3] [--epochs-sst2 2] [--threads 2] [--json FILE]
 *
 * Reads ../shared/data (team machines); nothing here is a test: it prints figures.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';

const { values: a } = parseArgs({
  options: {
    base: { type: 'string' },
    tasks: { type: 'string', default: 'imdb,sst2' },
    modes: { type: 'string', default: 'adapter,head,full' },
    bases: { type: 'string', default: 'trained,random' },
    'epochs-imdb': { type: 'string', default: '3' },
    'epochs-sst2': { type: 'string', default: '2' },
    'max-seq-len': { type: 'string', default: '128' },
    threads: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    json: { type: 'string' },
  },
});
if (!a.base) throw new Error('--base DIR is required (a Hugging Face BERT directory)');

const data = join('..', 'shared', 'data');
const work = mkdtempSync(join(tmpdir(), 'base-quality-'));
const learningRates: Record<string, string> = { adapter: '1e-3', head: '3e-3', full: '1e-4' };

interface Row { text: string; label: number | string }
const readJsonl = (path: string): Row[] => {
  const raw = path.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8');
  return raw.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Row);
};
const writeJsonl = (path: string, rows: Row[]) => writeFileSync(path, rows.map((r) => JSON.stringify({ text: r.text, label: r.label })).join('\n') + '\n');

/** A seeded shuffle (mulberry32): the slices are the same on every machine and every run. */
function shuffled<T>(xs: T[], seed: number): T[] {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function prepareTasks(): { task: string; train: string; score: string; epochs: string; scoreRows: number; majority: number }[] {
  const out = [];
  for (const task of a.tasks!.split(',')) {
    let train: Row[];
    let score: Row[];
    if (task === 'imdb') {
      const rows = shuffled(readJsonl(join(data, 'imdb', 'train.jsonl.gz')), 20261202);
      train = rows.slice(0, 2000);
      score = rows.slice(2000, 7000);
    } else if (task === 'sst2') {
      train = shuffled(readJsonl(join(data, 'glue', 'sst2', 'train.jsonl')), 20261202).slice(0, 8000);
      score = readJsonl(join(data, 'glue', 'sst2', 'validation.jsonl'));
    } else throw new Error(`--tasks: unknown task ${task} (imdb, sst2)`);
    const counts = new Map<string, number>();
    for (const r of score) counts.set(String(r.label), (counts.get(String(r.label)) ?? 0) + 1);
    const dir = join(work, 'data', task);
    mkdirSync(dir, { recursive: true });
    writeJsonl(join(dir, 'train.jsonl'), train);
    writeJsonl(join(dir, 'score.jsonl'), score);
    out.push({
      task, train: join(dir, 'train.jsonl'), score: join(dir, 'score.jsonl'), epochs: a[`epochs-${task}` as 'epochs-imdb']!,
      scoreRows: score.length, majority: Math.max(...counts.values()) / score.length,
    });
  }
  return out;
}

function trainer(args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'trainer/cli.ts', ...args], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`trainer ${args.join(' ')} failed (exit ${r.status})`);
  return r.stdout;
}

/** A random BERT of the trained base's exact shape and vocabulary: the "no pretraining" anchor. */
function randomTwin(base: string): string {
  const cfg = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')) as Record<string, number>;
  const out = join(work, 'random-base');
  trainer(['init-base', '--out', out, '--vocab', join(base, 'vocab.txt'), '--hidden', String(cfg.hidden_size), '--layers', String(cfg.num_hidden_layers),
    '--heads', String(cfg.num_attention_heads), '--intermediate', String(cfg.intermediate_size), '--max-positions', String(cfg.max_position_embeddings), '--seed', '7']);
  return out;
}

const tasks = prepareTasks();
const bases: { name: string; dir: string }[] = a.bases!.split(',').map((b) => {
  if (b === 'trained') return { name: a.base!.replace(/\/$/, '').split('/').pop()!, dir: a.base! };
  if (b === 'random') return { name: 'random (same shape)', dir: randomTwin(a.base!) };
  throw new Error(`--bases: unknown ${b} (trained, random)`);
});

interface Result { base: string; task: string; mode: string; accuracy: number; trainable: number; total: number; seconds: number }
const results: Result[] = [];
for (const t of tasks) {
  for (const b of bases) {
    for (const mode of a.modes!.split(',')) {
      const out = join(work, 'runs', `${t.task}-${b.dir === a.base ? 'trained' : 'random'}-${mode}`);
      const started = Date.now();
      trainer(['train', '--base', b.dir, '--data', t.train, '--validation-split', '0.1', '--out', out, '--task', t.task, '--mode', mode,
        '--bottleneck', '64', '--epochs', t.epochs, '--batch-size', '32', '--max-seq-len', a['max-seq-len']!, '--lr', learningRates[mode]!,
        '--seed', a.seed!, '--threads', a.threads!, '--quiet']);
      const metrics = JSON.parse(trainer(['eval', '--base', b.dir, '--adapter', out, '--data', t.score, '--threads', a.threads!])) as { accuracy: number };
      const trained = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { parameters: { trainable: number; total: number } };
      const r = { base: b.name, task: t.task, mode, accuracy: metrics.accuracy, ...trained.parameters, seconds: (Date.now() - started) / 1000 };
      results.push(r);
      console.error(JSON.stringify(r));
    }
  }
}

console.log(`\nHeld-out accuracy (max-seq-len ${a['max-seq-len']}, batch 32, seed ${a.seed}, ${a.threads} threads; lr adapter ${learningRates.adapter}, head ${learningRates.head}, full ${learningRates.full})\n`);
console.log('| task (scored rows, majority) | base | mode | trainable share | accuracy | seconds |');
console.log('|---|---|---|---|---|---|');
for (const r of results) {
  const t = tasks.find((x) => x.task === r.task)!;
  console.log(`| ${r.task} (${t.scoreRows}, ${t.majority.toFixed(3)}) | ${r.base} | ${r.mode} | ${((100 * r.trainable) / r.total).toFixed(2)} % | ${r.accuracy.toFixed(4)} | ${r.seconds.toFixed(0)} |`);
}
if (a.json) writeFileSync(a.json, JSON.stringify({ tasks, results }, null, 2) + '\n');
