/** The label limits' settings: defaults 1,000 labels and 256 characters, each settable by its variable, nonsense refused by name. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_LABEL_LIMITS, labelLimitsFromEnv, labelListProblem } from '../../../shared/training-data/label-limits.ts';

test('the defaults are 1,000 labels of 256 characters; the environment sets either', () => {
  assert.deepEqual(labelLimitsFromEnv({}), { maxLabels: 1000, maxLabelChars: 256 });
  assert.deepEqual(DEFAULT_LABEL_LIMITS, { maxLabels: 1000, maxLabelChars: 256 });
  assert.deepEqual(labelLimitsFromEnv({ ADAPTER_STORE_MAX_LABELS: '5000', ADAPTER_STORE_MAX_LABEL_CHARS: '' }), {
    maxLabels: 5000,
    maxLabelChars: 256,
  });
  assert.deepEqual(labelLimitsFromEnv({ ADAPTER_STORE_MAX_LABEL_CHARS: '64' }), { maxLabels: 1000, maxLabelChars: 64 });
  for (const bad of ['0', '-3', '1.5', 'many'])
    assert.throws(() => labelLimitsFromEnv({ ADAPTER_STORE_MAX_LABELS: bad }), {
      message: `ADAPTER_STORE_MAX_LABELS must be a positive integer, got "${bad}"`,
    });
});

test('a label list names its first problem and where it is', () => {
  const limits = { maxLabels: 3, maxLabelChars: 4 };
  assert.equal(labelListProblem(['a', 'b', 'c'], limits), null);
  assert.deepEqual(labelListProblem(['a', 'b', 'c', 'd'], limits), {
    index: -1,
    reason: 'more than 3 distinct labels, the limit (ADAPTER_STORE_MAX_LABELS)',
  });
  assert.equal(labelListProblem(['a', 'bbbbb'], limits)?.index, 1);
});
