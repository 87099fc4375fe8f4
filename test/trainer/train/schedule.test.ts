/** Learning-rate schedules against the Hugging Face formulas, at every boundary step. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { learningRateAt, type ScheduleOptions, warmupStepsFor } from '../../../trainer/train/schedule.ts';

/** transformers.optimization: the lr_lambda of get_linear_schedule_with_warmup, written out. */
function hfLinear(step: number, warmup: number, total: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  return Math.max(0, (total - step) / Math.max(1, total - warmup));
}

/** transformers.optimization: the lr_lambda of get_constant_schedule_with_warmup. */
function hfConstant(step: number, warmup: number): number {
  return step < warmup ? step / Math.max(1, warmup) : 1;
}

const boundaries = (warmup: number, total: number): number[] =>
  [...new Set([0, 1, warmup - 1, warmup, warmup + 1, Math.floor((warmup + total) / 2), total - 1, total, total + 3])].filter((s) => s >= 0);

test('linear and constant schedules equal base * HF lambda at boundary steps (bit for bit)', () => {
  for (const [warmup, total] of [
    [10, 100],
    [0, 50],
    [1, 1],
    [0, 1],
    [7, 7],
    [3, 1000],
    [6, 10],
  ]) {
    for (const base of [1e-3, 2e-5, 0.1]) {
      const o = (kind: ScheduleOptions['kind']): ScheduleOptions => ({ base, totalSteps: total, warmupSteps: warmup, kind });
      for (const s of boundaries(warmup, total)) {
        assert.equal(learningRateAt(s, o('linear')), base * hfLinear(s, warmup, total), `linear ${warmup}/${total} step ${s}`);
        assert.equal(learningRateAt(s, o('constant')), base * hfConstant(s, warmup), `constant ${warmup}/${total} step ${s}`);
      }
    }
  }
});

test('linear: 0 at step 0 with warm-up, the base at the end of warm-up, 0 at totalSteps and after', () => {
  const o: ScheduleOptions = { base: 1e-3, totalSteps: 100, warmupSteps: 10, kind: 'linear' };
  assert.equal(learningRateAt(0, o), 0);
  assert.equal(learningRateAt(5, o), 5e-4);
  assert.equal(learningRateAt(10, o), 1e-3);
  assert.equal(learningRateAt(55, o), 5e-4);
  assert.equal(learningRateAt(99, o), 1e-3 * (1 / 90));
  assert.equal(learningRateAt(100, o), 0);
  assert.equal(learningRateAt(150, o), 0);
  assert.equal(learningRateAt(0, { ...o, warmupSteps: 0 }), 1e-3, 'no warm-up starts at the base rate');
  assert.throws(() => learningRateAt(-1, o), RangeError);
  assert.throws(() => learningRateAt(1.5, o), RangeError);
});

test('constant: ramps during warm-up, then stays at the base rate', () => {
  const o: ScheduleOptions = { base: 0.1, totalSteps: 10, warmupSteps: 4, kind: 'constant' };
  assert.deepEqual(
    Array.from({ length: 12 }, (_, s) => learningRateAt(s, o)),
    [0, 0.1 * 0.25, 0.1 * 0.5, 0.1 * 0.75, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
  );
});

test('warmupStepsFor = ceil(totalSteps * ratio), float quirks included, as HF TrainingArguments', () => {
  assert.equal(warmupStepsFor(0.1, 95), 10);
  assert.equal(warmupStepsFor(0, 95), 0);
  assert.equal(warmupStepsFor(1, 95), 95);
  assert.equal(warmupStepsFor(0.06, 1000), 60);
  // 100 * 0.07 is 7.000000000000001 in doubles, so Python's math.ceil gives 8 as well.
  assert.equal(warmupStepsFor(0.07, 100), 8);
  assert.throws(() => warmupStepsFor(-0.1, 10), RangeError);
  assert.throws(() => warmupStepsFor(1.5, 10), RangeError);
  assert.throws(() => warmupStepsFor(Number.NaN, 10), RangeError);
  assert.throws(() => warmupStepsFor(0.1, 2.5), RangeError);
});
