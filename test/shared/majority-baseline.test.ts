/** The majority-class guardrail's verdict: which metric it compares, and that "not above" includes a tie. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { belowMajority, type MajorityBaseline } from '../../shared/majority-baseline.ts';

// 75 % "positive": always answering it scores accuracy 0.75, macro-F1 (2*3/7)/2 and MCC 0.
const baseline: MajorityBaseline = { label: 'positive', rate: 0.75, accuracy: 0.75, macroF1: 3 / 7, mcc: 0, examples: 40 };

test('accuracy at or under the majority rate is flagged, with the label and rate in the message', () => {
  const tie = belowMajority({ accuracy: 0.75, macroF1: 0.5, mcc: 0.2 }, baseline, 'accuracy');
  assert.ok(tie, 'a tie is not above');
  assert.equal(tie.metric, 'accuracy');
  assert.equal(tie.score, 0.75);
  assert.equal(tie.majorityScore, 0.75);
  assert.equal(tie.majorityLabel, 'positive');
  assert.match(tie.message, /accuracy 0\.7500 is not above .*"positive".*75\.0 %/);
  assert.ok(belowMajority({ accuracy: 0.6, macroF1: 0.5, mcc: 0.2 }, baseline, 'accuracy'));
  assert.equal(belowMajority({ accuracy: 0.8, macroF1: 0.2, mcc: -0.1 }, baseline, 'accuracy'), null);
});

test('macro-F1 and MCC compare against what the majority-class predictor scores on them', () => {
  // Accuracy 0.7 is under the rate, but macro-F1 0.6 beats the constant answer's 3/7: not flagged on f1.
  assert.equal(belowMajority({ accuracy: 0.7, macroF1: 0.6, mcc: 0.3 }, baseline, 'f1'), null);
  const f1 = belowMajority({ accuracy: 0.9, macroF1: 0.4, mcc: 0.3 }, baseline, 'f1');
  assert.equal(f1?.metric, 'f1');
  assert.equal(f1?.majorityScore, 3 / 7);
  assert.match(f1?.message ?? '', /macro-F1/);
  assert.equal(belowMajority({ accuracy: 0.7, macroF1: 0.3, mcc: 0.01 }, baseline, 'mcc'), null);
  assert.equal(belowMajority({ accuracy: 0.9, macroF1: 0.9, mcc: 0 }, baseline, 'mcc')?.metric, 'mcc');
});

test('a job selected on loss is checked on accuracy; nothing to compare without validation', () => {
  assert.equal(belowMajority({ accuracy: 0.7, macroF1: 0.9, mcc: 0.9 }, baseline, 'loss')?.metric, 'accuracy');
  assert.equal(belowMajority({ accuracy: 0.8, macroF1: 0.1, mcc: 0 }, baseline, 'loss'), null);
  assert.equal(belowMajority(null, baseline, 'accuracy'), null);
  assert.equal(belowMajority({ accuracy: 0, macroF1: 0, mcc: 0 }, null, 'accuracy'), null);
});
