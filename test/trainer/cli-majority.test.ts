/** `trainer train` says when the adapter does not beat the majority class (a log event; a line under --quiet), and metrics.json and the model card record why. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { trainOn } from '../support/process.ts';
import { writeTinyBert } from '../support/tiny-bert.ts';

test('every row the same text: the run ends with a warning naming the majority label, and metrics.json carries it', () => {
  const work = mkdtempSync(join(tmpdir(), 'trainer-majority-'));
  const base = join(work, 'base');
  writeTinyBert(base, { maxPositions: 32, vocabSize: 60 });
  const data = join(work, 'same.jsonl');
  // One text, so one answer for every row; 3 in 4 labelled "yes".
  writeFileSync(
    data,
    `${Array.from({ length: 40 }, (_, i) => JSON.stringify({ input_ids: [2, 8, 9], label: i % 4 ? 'yes' : 'no' })).join('\n')}\n`,
  );
  const args = '--task same --epochs 1 --batch-size 8 --bottleneck 4 --validation-split 0.25';
  // Piped stderr: JSON lines, the warning an event of its own just before `done`.
  const out = join(work, 'adapter');
  const r = trainOn(base, data)(out, args);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; message?: string });
  assert.deepEqual(
    events.slice(-2).map((e) => e.event),
    ['below-majority', 'done'],
  );
  assert.match(
    events.at(-2)?.message ?? '',
    /^the selected validation accuracy \d\.\d{4} is not above what always answering "(yes|no)" scores/,
  );
  // --quiet: no progress, but the warning still.
  const quiet = trainOn(base, data)(join(work, 'quiet'), `${args} --quiet`);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.match(quiet.stderr.trim(), /^warning: the selected validation accuracy \d\.\d{4} is not above/);
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as {
    majority: { label: string; rate: number; examples: number };
    belowMajority: { metric: string; score: number; majorityScore: number } | null;
  };
  assert.equal(metrics.majority.examples, 10);
  assert.ok(metrics.belowMajority);
  assert.equal(metrics.belowMajority.metric, 'accuracy');
  assert.equal(metrics.belowMajority.majorityScore, metrics.majority.rate);
  assert.ok(metrics.belowMajority.score <= metrics.majority.rate);
  // The model card (README.md, for Hub users) states the baseline and the warning.
  const card = readFileSync(join(out, 'README.md'), 'utf8');
  assert.match(card, new RegExp(`Always answering the most frequent label, \`${metrics.majority.label}\``));
  assert.match(card, /> \*\*Warning:\*\* the selected validation accuracy \d\.\d{4} is not above/);
});
