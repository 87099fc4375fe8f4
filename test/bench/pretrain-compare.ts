/**
 * Masked-LM pretraining throughput, ours beside PyTorch on the same machine: the same model (BERT of
 * --layers x --hidden, bert-base-uncased vocab size), the same packed batch and 15 % masking (80/10/10),
 * vocabulary projection at the masked positions only on both sides, AdamW with clipping. PyTorch runs
 * in its default thread layout and tuned (see step_torch.py); the faster is the peer. Also prints
 * PyTorch with transformers' dense projection (every position) for reference. Each run is its own process.
 *
 *   npx tsx test/bench/pretrain-compare.ts [--layers 4 --hidden 256 --heads 4 --batch 64 --seq 128 --steps 5 --threads 2] [--no-dense]
 *
 * Needs Debian's python3-torch and libopenblas0-pthread.
 */
import { benchArgs, forward, runJson } from './support.ts';

const a = benchArgs({ layers: '4', hidden: '256', heads: '4', batch: '64', seq: '128', steps: '5', threads: '2' }, ['no-dense']);
const common = forward(a, ['layers', 'hidden', 'heads', 'batch', 'seq', 'steps', 'threads']);

interface Run {
  sec_per_step: number;
  tokens_per_s: number;
  peak_rss_mb: number;
}

const run = runJson<Run>;

const rows: [string, Run][] = [
  ['ours (sparse prediction)', run(process.execPath, ['--import', 'tsx', 'test/bench/pretrain-step.ts', ...common])],
];
for (const layout of ['default', 'tuned'])
  rows.push([
    `PyTorch ${layout} (sparse prediction)`,
    run('/usr/bin/python3', ['test/bench/pretrain_step_torch.py', '--layout', layout, ...common]),
  ]);
if (!a['no-dense'])
  rows.push([
    'PyTorch default (dense, as transformers)',
    run('/usr/bin/python3', ['test/bench/pretrain_step_torch.py', '--dense', ...common]),
  ]);

console.log(
  `\nMasked-LM step, BERT ${a.layers} x ${a.hidden} (${a.heads} heads), vocab 30,522, batch ${a.batch} x seq ${a.seq}, ${a.threads} threads, AdamW; median of ${a.steps} steps after 1 warm-up\n`,
);
console.log('| implementation | s/step | tokens/s | peak RSS |');
console.log('|---|---|---|---|');
for (const [name, r] of rows)
  console.log(`| ${name} | ${r.sec_per_step.toFixed(2)} | ${r.tokens_per_s.toFixed(0)} | ${r.peak_rss_mb.toFixed(0)} MB |`);
const torch = Math.max(rows[1][1].tokens_per_s, rows[2][1].tokens_per_s);
console.log(`\nours / best PyTorch (same sparse step): ${(rows[0][1].tokens_per_s / torch).toFixed(2)}x`);
