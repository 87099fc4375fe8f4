/**
 * Training-step benchmark, ours beside PyTorch on the same machine: BERT-base shape (12 x 768, random
 * weights), bottleneck 64, for the adapter, full and head modes. Each run is its own process, so peak
 * RSS is per run. PyTorch runs at its default thread layout and tuned (torch.set_num_threads(1) with
 * OPENBLAS_NUM_THREADS=2); the faster one is the peer.
 *
 *   npx tsx test/bench/step-compare.ts [--batch 32] [--seq 128] [--steps 3] [--modes adapter,full,head]
 *
 * Needs Debian's python3-torch and libopenblas0-pthread (without OpenBLAS, torch uses a reference BLAS
 * about 40x slower and the comparison means nothing).
 */
import { benchArgs, forward, runJson } from './support.ts';

const a = benchArgs({ batch: '32', seq: '128', steps: '3', modes: 'adapter,full,head' }, ['no-torch']);
const common = forward(a, ['batch', 'seq', 'steps']);

interface Run {
  sec_per_step: number;
  peak_rss_mb: number;
  layout?: string;
}

const run = runJson<Run>;

const rows: Record<string, { ours: Run; torch?: Run }> = {};
for (const mode of a.modes!.split(',')) {
  const ours = run(process.execPath, ['--import', 'tsx', 'test/bench/step.ts', '--mode', mode, ...common]);
  console.error(`ours    ${mode}: ${ours.sec_per_step.toFixed(2)} s/step, ${ours.peak_rss_mb.toFixed(0)} MB`);
  let torch: Run | undefined;
  if (!a['no-torch']) {
    for (const layout of ['default', 'tuned']) {
      const t = run('/usr/bin/python3', ['test/bench/step_torch.py', '--mode', mode, '--layout', layout, '--quiet', ...common]);
      console.error(`pytorch ${mode} (${layout}): ${t.sec_per_step.toFixed(2)} s/step, ${t.peak_rss_mb.toFixed(0)} MB`);
      if (!torch || t.sec_per_step < torch.sec_per_step) torch = { ...t, layout };
    }
  }
  rows[mode] = { ours, torch };
}

console.log(
  `\nTraining step, BERT-base shape, batch ${a.batch} x seq ${a.seq}, bottleneck 64, dropout 0.1, AdamW; median of ${a.steps} steps after 1 warm-up\n`,
);
console.log('| mode | ours s/step | ours steps/s | ours peak RSS | PyTorch s/step (layout) | PyTorch peak RSS | PyTorch / ours time |');
console.log('|---|---|---|---|---|---|---|');
for (const [mode, { ours, torch }] of Object.entries(rows)) {
  const t = torch ? `${torch.sec_per_step.toFixed(2)} (${torch.layout})` : '-';
  const ratio = torch ? `${(torch.sec_per_step / ours.sec_per_step).toFixed(2)}x` : '-';
  console.log(
    `| ${mode} | ${ours.sec_per_step.toFixed(2)} | ${(1 / ours.sec_per_step).toFixed(3)} | ${ours.peak_rss_mb.toFixed(0)} MB | ${t} | ${torch ? `${torch.peak_rss_mb.toFixed(0)} MB` : '-'} | ${ratio} |`,
  );
}
if (rows.adapter && rows.full) {
  const speed = rows.full.ours.sec_per_step / rows.adapter.ours.sec_per_step;
  const mem = rows.adapter.ours.peak_rss_mb / rows.full.ours.peak_rss_mb;
  console.log(`\nours: adapter step is ${speed.toFixed(2)}x faster than full, with ${(100 * mem).toFixed(0)}% of its peak RSS`);
}
