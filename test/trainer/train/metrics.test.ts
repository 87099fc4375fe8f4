import assert from 'node:assert/strict';
import { test } from 'node:test';
import { confusionMetrics, isBetter, MetricsAccumulator, metricValue } from '../../../trainer/train/metrics.ts';

test('binary MCC and macro-F1 match their textbook formulas', () => {
  const [tn, fp, fn, tp] = [50, 10, 5, 35];
  const m = confusionMetrics([tn, fp, fn, tp], 2);
  const mcc = (tp * tn - fp * fn) / Math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
  const f1pos = (2 * tp) / (2 * tp + fp + fn);
  const f1neg = (2 * tn) / (2 * tn + fn + fp);
  assert.ok(Math.abs(m.mcc - mcc) < 1e-12);
  assert.ok(Math.abs(m.macroF1 - (f1pos + f1neg) / 2) < 1e-12);
  assert.equal(m.accuracy, 0.85);
});

test('a constant predictor has MCC 0 (CoLA majority baseline) and perfect predictions MCC 1', () => {
  assert.equal(confusionMetrics([0, 30, 0, 70], 2).mcc, 0);
  assert.ok(Math.abs(confusionMetrics([30, 0, 0, 70], 2).mcc - 1) < 1e-12);
  assert.ok(Math.abs(confusionMetrics([10, 0, 0, 0, 10, 0, 0, 0, 10], 3).mcc - 1) < 1e-12);
});

test('the accumulator computes loss from logits and the confusion from argmax', () => {
  const acc = new MetricsAccumulator(2);
  acc.add(Float32Array.of(2, 0, 0, 1, 3, 0), [0n, 1n, 1n]);
  const r = acc.result();
  const ce = (a: number, b: number, k: number) => Math.log(Math.exp(a) + Math.exp(b)) - (k === 0 ? a : b);
  assert.ok(Math.abs(r.loss - (ce(2, 0, 0) + ce(0, 1, 1) + ce(3, 0, 1)) / 3) < 1e-6);
  assert.ok(Math.abs(r.accuracy - 2 / 3) < 1e-12);
  assert.equal(r.examples, 3);
  assert.ok(isBetter({ ...r, loss: 0.1 }, r, 'loss') && !isBetter(r, r, 'accuracy'));
});

test('each selection metric reads its own field of an evaluation (f1 is macroF1)', () => {
  const m = { loss: 0.5, accuracy: 0.8, macroF1: 0.7, mcc: 0.6, examples: 10 };
  assert.deepEqual(
    (['accuracy', 'f1', 'mcc', 'loss'] as const).map((k) => metricValue(m, k)),
    [0.8, 0.7, 0.6, 0.5],
  );
});
