/**
 * Held-out downstream scoring shared by the base benchmarks: the IMDB and SST-2 slices (seeded, the same
 * on every machine), and a `train` + `eval` run through the trainer CLI that scores rows the run never saw
 * (neither for training nor for picking its best epoch: that uses 10 % of the training rows).
 *
 *   IMDB:  train on 2,000 rows of imdb/train, score 5,000 disjoint rows of imdb/train.
 *   SST-2: train on 8,000 rows of glue/sst2/train, score the GLUE validation split.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { teamData } from './support.ts';

export const DATA = teamData();
const SLICE_SEED = 20261202;

interface Row {
  text: string;
  label: number | string;
}

export interface HeldOutTask {
  task: 'imdb' | 'sst2';
  train: string;
  score: string;
  scoreRows: number;
  /** Accuracy of always answering the most frequent label of the scored rows. */
  majority: number;
}

const readJsonl = (path: string): Row[] => {
  const raw = path.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8');
  return raw
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row);
};
const writeJsonl = (path: string, rows: Row[]) =>
  writeFileSync(path, `${rows.map((r) => JSON.stringify({ text: r.text, label: r.label })).join('\n')}\n`);

/** A seeded shuffle (mulberry32), so the slices are the same everywhere. */
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

/** Writes the task's training and scoring rows under `dir` and says where they are. */
export function prepareHeldOut(task: string, dir: string): HeldOutTask {
  let train: Row[];
  let score: Row[];
  if (task === 'imdb') {
    const rows = shuffled(readJsonl(join(DATA, 'imdb', 'train.jsonl.gz')), SLICE_SEED);
    train = rows.slice(0, 2000);
    score = rows.slice(2000, 7000);
  } else if (task === 'sst2') {
    train = shuffled(readJsonl(join(DATA, 'glue', 'sst2', 'train.jsonl')), SLICE_SEED).slice(0, 8000);
    score = readJsonl(join(DATA, 'glue', 'sst2', 'validation.jsonl'));
  } else throw new Error(`unknown task ${task} (imdb, sst2)`);
  const counts = new Map<string, number>();
  for (const r of score) counts.set(String(r.label), (counts.get(String(r.label)) ?? 0) + 1);
  mkdirSync(join(dir, task), { recursive: true });
  const paths = { train: join(dir, task, 'train.jsonl'), score: join(dir, task, 'score.jsonl') };
  writeJsonl(paths.train, train);
  writeJsonl(paths.score, score);
  return { task, ...paths, scoreRows: score.length, majority: [...counts.values()].reduce((m, v) => Math.max(m, v), 0) / score.length };
}

/** Runs the trainer CLI; its stdout. */
export function trainer(args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'trainer/cli.ts', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`trainer ${args.join(' ')} failed (exit ${r.status})`);
  return r.stdout;
}

export const LEARNING_RATES: Record<string, string> = { adapter: '1e-3', head: '3e-3', full: '1e-4' };

export interface HeldOutRun {
  mode: string;
  accuracy: number;
  trainable: number;
  total: number;
  seconds: number;
}

/** Trains `mode` (adapter: bottleneck 64) on the task's rows, then scores the held-out rows. */
export function trainAndScore(
  t: HeldOutTask,
  base: string,
  out: string,
  o: { mode: string; epochs: string; maxSeqLen: string; threads: string; seed: string },
): HeldOutRun {
  const started = Date.now();
  trainer([
    'train',
    '--base',
    base,
    '--data',
    t.train,
    '--validation-split',
    '0.1',
    '--out',
    out,
    '--task',
    t.task,
    '--mode',
    o.mode,
    '--bottleneck',
    '64',
    '--epochs',
    o.epochs,
    '--batch-size',
    '32',
    '--max-seq-len',
    o.maxSeqLen,
    '--lr',
    LEARNING_RATES[o.mode]!,
    '--seed',
    o.seed,
    '--threads',
    o.threads,
    '--quiet',
  ]);
  const scored = JSON.parse(trainer(['eval', '--base', base, '--adapter', out, '--data', t.score, '--threads', o.threads])) as {
    accuracy: number;
  };
  const trained = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { parameters: { trainable: number; total: number } };
  return {
    mode: o.mode,
    accuracy: scored.accuracy,
    trainable: trained.parameters.trainable,
    total: trained.parameters.total,
    seconds: (Date.now() - started) / 1000,
  };
}

/** A random BERT of `base`'s exact shape and vocabulary: the "no pretraining" anchor. */
export function randomTwin(base: string, out: string): string {
  const cfg = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')) as Record<string, number>;
  trainer([
    'init-base',
    '--out',
    out,
    '--vocab',
    join(base, 'vocab.txt'),
    '--hidden',
    String(cfg.hidden_size),
    '--layers',
    String(cfg.num_hidden_layers),
    '--heads',
    String(cfg.num_attention_heads),
    '--intermediate',
    String(cfg.intermediate_size),
    '--max-positions',
    String(cfg.max_position_embeddings),
    '--seed',
    '7',
  ]);
  return out;
}
