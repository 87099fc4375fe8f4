import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lossPoints } from '../../../../functions/console/ui/job-events.ts';

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
