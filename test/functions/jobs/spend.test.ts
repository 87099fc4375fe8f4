/** The job budget's formula: training and evaluation work in token x parameter units, and the largest step cap that fits. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_JOB_LIMITS, evaluationsIn, jobBudget, jobCost } from '../../../functions/jobs/spend.ts';

test('cost = seeds x (steps x batch + evaluations x 10,000 validation rows) x maxSeqLen x parameters', () => {
  const h = { seeds: [1, 2], batchSize: 4, maxSeqLen: 16, epochs: 2, evalSteps: 5 };
  assert.equal(evaluationsIn(h, 12), 2 + 2, 'every 5 steps (2) and each epoch end reached (2)');
  assert.equal(evaluationsIn({ epochs: 3 }, 1), 1, 'a 1-step job ends one epoch at most');
  assert.equal(jobCost(h, 12, { parameters: 100, validates: false }), 2 * 12 * 4 * 16 * 100);
  assert.equal(jobCost(h, 12, { parameters: 100, validates: true }), 2 * (12 * 4 + 4 * 10_000) * 16 * 100);
  // The defaults: batch 32, 128 tokens, one seed, 3 epochs.
  assert.equal(jobCost({}, 10, { parameters: 1, validates: false }), 10 * 32 * 128);
});

test('the step cap is the largest that fits, evaluations included; nothing fits when one step does not', () => {
  const job = { parameters: 1, validates: true };
  const h = { batchSize: 8, maxSeqLen: 8, seeds: [1], epochs: 1, evalSteps: 10 };
  const budget = jobBudget(h, job, 200_000);
  assert.ok(budget.ok);
  assert.ok(jobCost(h, budget.maxSteps, job) <= 200_000);
  assert.ok(jobCost(h, budget.maxSteps + 1, job) > 200_000);
  assert.deepEqual(jobBudget(h, job, 100), { ok: false, cost: jobCost(h, 1, job) });
  assert.equal(DEFAULT_JOB_LIMITS.maxJobCost, 1e17);
  // BERT-base (110 M parameters) at the defaults, no validation: about 220,000 steps.
  const bert = jobBudget({}, { parameters: 110e6, validates: false }, DEFAULT_JOB_LIMITS.maxJobCost);
  assert.ok(bert.ok && bert.maxSteps > 200_000 && bert.maxSteps < 250_000, JSON.stringify(bert));
});
