/** The majority-class baseline is scored by the evaluator's own confusion metrics, as if every row got the top label. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { majorityBaseline } from '../../../trainer/train/majority.ts';

test('three classes, "b" most frequent: its rate, macro-F1 of one class over three, MCC 0', () => {
  const m = majorityBaseline([1, 1, 1, 0, 2, 1, 0, 1], ['a', 'b', 'c']);
  assert.ok(m);
  assert.equal(m.label, 'b');
  assert.equal(m.rate, 5 / 8);
  assert.equal(m.accuracy, 5 / 8);
  // F1 of "b": 2*5 / (5 truths + 8 predictions); the other classes score 0.
  assert.ok(Math.abs(m.macroF1 - 10 / 13 / 3) < 1e-12, String(m.macroF1));
  assert.equal(m.mcc, 0);
  assert.equal(m.examples, 8);
});

test('a tie goes to the first label; no rows, no baseline', () => {
  assert.equal(majorityBaseline([1, 0, 0, 1], ['neg', 'pos'])?.label, 'neg');
  assert.equal(majorityBaseline([], ['neg', 'pos']), null);
});
