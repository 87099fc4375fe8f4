/**
 * The pretrain warm-up guardrail: a budget (steps, tokens or minutes) that ends before the warm-up does is
 * reported with its figures, at the start for steps, after a few measured steps for time; a warm-up that
 * ends in time says nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PretrainEvent } from '../../../shared/trainer-events.ts';
import { pretrainOptions } from '../../../trainer/pretrain/command.ts';
import { pretrain } from '../../../trainer/pretrain/pretrain.ts';
import { MEASURED_STEPS, warmupWarning } from '../../../trainer/pretrain/warmup-budget.ts';
import { flags } from '../../support/process.ts';

test('the figures: steps the budget allows, the highest rate reached, a warm-up that fits', () => {
  // The run the issue reports: 1 minute, --warmup-steps 150, --lr 5e-4; ~19 steps of ~3.2 s.
  const w = warmupWarning({ warmupSteps: 150, lr: 5e-4, budgetSteps: 19, time: { maxMinutes: 1, secondsPerStep: 3.2 } });
  assert.ok(w);
  assert.equal(w.reachedLr, 5e-4 * (18 / 150));
  assert.equal(w.estimated, true);
  assert.equal(
    w.message,
    'the warm-up does not end inside the budget: --warmup-steps 150, but --max-minutes 1 allows about 19 steps (measured 3.20 s a step); ' +
      'the learning rate only climbs to 6e-5 of its 5e-4 peak (--lr). Give fewer warm-up steps (e.g. --warmup-steps 1, a tenth of the run) or a larger budget.',
  );
  const steps = warmupWarning({ warmupSteps: 100, lr: 1e-3, budgetSteps: 100 });
  assert.match(steps?.message ?? '', /--warmup-steps 100, but the budget is 100 steps; .* climbs to 9\.9e-4 of its 1e-3 peak/);
  // The peak is reached at step warmupSteps (from 0): one step more than the warm-up is enough.
  assert.equal(warmupWarning({ warmupSteps: 100, lr: 1e-3, budgetSteps: 101 }), null);
  assert.equal(warmupWarning({ warmupSteps: 0, lr: 1e-3, budgetSteps: 1 }), null);
});

const tmp = mkdtempSync(join(tmpdir(), 'warmup-budget-'));
const data = join(tmp, 'corpus.jsonl');
writeFileSync(
  data,
  `${Array.from({ length: 200 }, (_, i) => JSON.stringify({ text: `the cat number ${i} sat on the mat and looked at the dog` })).join('\n')}\n`,
);
const TINY = flags('--layers 1 --hidden 16 --heads 2 --intermediate 32 --max-position 32 --max-seq-len 16 --batch-size 4 --threads 1');

async function run(name: string, budget: string): Promise<PretrainEvent[]> {
  const events: PretrainEvent[] = [];
  const o = await pretrainOptions(['--data', data, '--out', join(tmp, name), ...TINY, ...flags(budget)]);
  await pretrain({ ...o, log: (e) => events.push(e) });
  return events;
}

test('pretrain warns at the start when --max-steps or --max-tokens ends inside the warm-up, and not when it fits', async () => {
  const events = await run('steps', '--lr 5e-4 --warmup-steps 10 --max-steps 4');
  const warnings = events.filter((e) => e.event === 'warmup-warning');
  assert.equal(warnings.length, 1);
  assert.deepEqual(
    { ...warnings[0], message: undefined },
    {
      event: 'warmup-warning',
      message: undefined,
      warmupSteps: 10,
      budgetSteps: 4,
      estimated: false,
      peakLr: 5e-4,
      reachedLr: 5e-4 * (3 / 10),
    },
  );
  // Before the first step, and the rates the steps ran at agree with it.
  assert.ok(events.indexOf(warnings[0]) < events.findIndex((e) => e.event === 'step'));
  const lrs = events.flatMap((e) => (e.event === 'step' ? [e.lr] : []));
  assert.equal(Math.max(...lrs), warnings[0].reachedLr);
  // 16 tokens a sequence x 4 a step: 256 tokens is 4 steps.
  const tokens = await run('tokens', '--lr 5e-4 --warmup-steps 10 --max-tokens 256');
  assert.equal(tokens.filter((e) => e.event === 'warmup-warning').length, 1);
  const fits = await run('fits', '--lr 5e-4 --warmup-steps 2 --max-steps 4');
  assert.equal(fits.filter((e) => e.event === 'warmup-warning').length, 0);
});

test('under --max-minutes, pretrain warns once, after a few measured steps, with the estimated step count', async () => {
  const events = await run('minutes', '--lr 5e-4 --warmup-steps 1000000 --max-minutes 0.02');
  const warnings = events.filter((e) => e.event === 'warmup-warning');
  assert.equal(warnings.length, 1);
  const w = warnings[0];
  assert.equal(w.estimated, true);
  assert.match(w.message, /--max-minutes 0\.02 allows about \d+ steps \(measured [\d.e-]+ s a step\)/);
  // Judged after the first step and MEASURED_STEPS measured ones.
  const before = events.slice(0, events.indexOf(w)).filter((e) => e.event === 'step').length;
  assert.equal(before, MEASURED_STEPS + 1);
  // The estimate is of the right size: the run took about as many steps.
  const ran = events.filter((e) => e.event === 'step').length;
  assert.ok(w.budgetSteps > 0.3 * ran && w.budgetSteps < 3 * ran, `estimated ${w.budgetSteps}, ran ${ran}`);
});
