import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lossPoints, metricOf, validationPoints } from '../../../../functions/console/ui/job-events.ts';

test('lossPoints: the metrics events of the newest seed, in order', () => {
  const events = [
    { type: 'created', data: {} },
    { type: 'metrics', data: { seed: 1, step: 10, loss: 0.9, lr: 1e-3 } },
    { type: 'metrics', data: { seed: 1, step: 20, loss: 0.7, lr: 1e-3 } },
    { type: 'evaluation', data: { seed: 1, step: 20, loss: 0.65 } },
    { type: 'metrics', data: { seed: 2, step: 10, loss: 0.8, lr: 1e-3 } },
    { type: 'metrics', data: { seed: 2, step: 20, loss: 0.6, lr: 1e-3 } },
  ];
  assert.deepEqual(lossPoints(events), [
    { x: 10, y: 0.8 },
    { x: 20, y: 0.6 },
  ]);
  assert.deepEqual(lossPoints(events.slice(0, 4)), [
    { x: 10, y: 0.9 },
    { x: 20, y: 0.7 },
  ]);
  assert.deepEqual(lossPoints([]), []);
});

test('validationPoints: the selection score of each evaluation of the newest seed, and its metric', () => {
  const events = [
    { type: 'evaluation', data: { seed: 1, step: 10, score: 0.5, metric: 'f1' } },
    { type: 'metrics', data: { seed: 2, step: 10, loss: 0.8 } },
    { type: 'evaluation', data: { seed: 2, step: 10, score: 0.6, metric: 'f1' } },
    { type: 'evaluation', data: { seed: 2, step: 20, score: 0.7, metric: 'f1' } },
  ];
  assert.deepEqual(validationPoints(events), {
    metric: 'f1',
    points: [
      { x: 10, y: 0.6 },
      { x: 20, y: 0.7 },
    ],
  });
  assert.deepEqual(validationPoints([]), { metric: null, points: [] });
});

test('metricOf: the selection metric of a metrics.json evaluation', () => {
  const m = { accuracy: 0.9, macroF1: 0.8, mcc: 0.7, loss: 0.3 };
  assert.deepEqual(
    ['accuracy', 'f1', 'mcc', 'loss'].map((k) => metricOf(m, k)),
    [0.9, 0.8, 0.7, 0.3],
  );
});
