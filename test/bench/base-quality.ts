/**
 * What a base is worth downstream: trains `adapter` (bottleneck 64), `head` and `full` on a base and on a
 * random BERT of the same shape, and scores each on held-out rows (see heldout.ts for the slices). Prints a
 * Markdown table: held-out accuracy, trainable share, seconds per run.
 *
 *   npx tsx test/bench/base-quality.ts --base assets/models/<name> [--tasks imdb,sst2] [--modes adapter,head,full]
 *       [--bases trained,random] [--epochs-imdb 3] [--epochs-sst2 2] [--threads 2] [--json FILE]
 *
 * Reads ../shared/data (team machines); nothing here is a test: it prints figures.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type HeldOutRun, LEARNING_RATES, prepareHeldOut, randomTwin, trainAndScore } from './heldout.ts';

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

const work = mkdtempSync(join(tmpdir(), 'base-quality-'));
const tasks = a.tasks!.split(',').map((t) => prepareHeldOut(t, join(work, 'data')));
const bases = a.bases!.split(',').map((b) => {
  if (b === 'trained') return { name: a.base!.replace(/\/$/, '').split('/').pop()!, dir: a.base!, id: 'trained' };
  if (b === 'random') return { name: 'random (same shape)', dir: randomTwin(a.base!, join(work, 'random-base')), id: 'random' };
  throw new Error(`--bases: unknown ${b} (trained, random)`);
});

const results: (HeldOutRun & { base: string; task: string })[] = [];
for (const t of tasks) {
  for (const b of bases) {
    for (const mode of a.modes!.split(',')) {
      const run = trainAndScore(t, b.dir, join(work, 'runs', `${t.task}-${b.id}-${mode}`), {
        mode,
        epochs: a[`epochs-${t.task}` as 'epochs-imdb']!,
        maxSeqLen: a['max-seq-len']!,
        threads: a.threads!,
        seed: a.seed!,
      });
      results.push({ ...run, base: b.name, task: t.task });
      console.error(JSON.stringify(results.at(-1)));
    }
  }
}

console.log(
  `\nHeld-out accuracy (max-seq-len ${a['max-seq-len']}, batch 32, seed ${a.seed}, ${a.threads} threads; lr adapter ${LEARNING_RATES.adapter}, head ${LEARNING_RATES.head}, full ${LEARNING_RATES.full})\n`,
);
console.log('| task (scored rows, majority) | base | mode | trainable share | accuracy | seconds |');
console.log('|---|---|---|---|---|---|');
for (const r of results) {
  const t = tasks.find((x) => x.task === r.task)!;
  console.log(
    `| ${r.task} (${t.scoreRows}, ${t.majority.toFixed(3)}) | ${r.base} | ${r.mode} | ${((100 * r.trainable) / r.total).toFixed(2)} % | ${r.accuracy.toFixed(4)} | ${r.seconds.toFixed(0)} |`,
  );
}
if (a.json) writeFileSync(a.json, `${JSON.stringify({ tasks, results }, null, 2)}\n`);
