import assert from 'node:assert/strict';
import { test } from 'node:test';
import { learningRateAt, warmupStepsFor } from '../../../trainer/train/schedule.ts';

test('linear warm-up then linear decay to 0 (Hugging Face get_linear_schedule_with_warmup)', () => {
  const o = { base: 1e-3, totalSteps: 100, warmupSteps: 10, kind: 'linear' as const };
  assert.equal(learningRateAt(0, o), 0);
  assert.equal(learningRateAt(5, o), 5e-4);
  assert.equal(learningRateAt(10, o), 1e-3);
  assert.ok(Math.abs(learningRateAt(55, o) - 5e-4) < 1e-15);
  assert.equal(learningRateAt(100, o), 0);
});

test('constant after warm-up; no warm-up starts at the base rate', () => {
  assert.ok(Math.abs(learningRateAt(3, { base: 0.1, totalSteps: 10, warmupSteps: 4, kind: 'constant' }) - 0.075) < 1e-15);
  assert.equal(learningRateAt(9, { base: 0.1, totalSteps: 10, warmupSteps: 4, kind: 'constant' }), 0.1);
  assert.equal(learningRateAt(0, { base: 1, totalSteps: 1, warmupSteps: 0, kind: 'constant' }), 1);
  assert.equal(warmupStepsFor(0.1, 95), 10);
  assert.equal(warmupStepsFor(0, 95), 0);
});
