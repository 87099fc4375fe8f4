/** The job page's words for scores (final vs selected) and a sweep's progress (points, an estimate of the time left). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { duration, scoreRows, sweepProgress } from '../../../../functions/console/ui/job-summary.ts';

const m = (accuracy: number) => ({ accuracy, macroF1: accuracy - 0.01, mcc: 0.5, loss: 0.4 });

test('scoreRows: while training the latest evaluation; once published, selected and final labelled apart where they differ', () => {
  assert.deepEqual(
    scoreRows(m(0.8), null).map((r) => [r.which, r.label]),
    [['latest', 'Validation (latest evaluation)']],
  );
  // The case the issue saw: the job showed its final 0.8875, its adapter the selected 0.9.
  const rows = scoreRows(m(0.8875), m(0.9), 40);
  assert.deepEqual(
    rows.map((r) => [r.which, r.metrics.accuracy]),
    [
      ['selected', 0.9],
      ['final', 0.8875],
    ],
  );
  assert.match(rows[0].label, /selected checkpoint, step 40, published/);
  assert.match(rows[1].label, /final evaluation, not published/);
  const one = scoreRows(m(0.9), m(0.9), 40);
  assert.equal(one.length, 1);
  assert.match(one[0].label, /also the final evaluation/);
  assert.deepEqual(scoreRows(null, null), []);
  // Nothing to compare with (a sweep): the selected score alone, not called final.
  const alone = scoreRows(null, m(0.9), 40);
  assert.equal(alone.length, 1);
  assert.equal(alone[0].label, 'Validation (selected checkpoint, step 40, published)');
});

test('sweepProgress: points done of the total, and the time left from the elapsed time and the fraction done', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const points = [
    { status: 'succeeded', progress: { fraction: 1 } },
    { status: 'running', progress: { fraction: 0.5 } },
    { status: 'queued', progress: { fraction: 0 } },
    { status: 'queued', progress: { fraction: 0 } },
  ];
  // 1.5 of 4 points' work in 60 s: 2.5 more take 100 s.
  assert.equal(sweepProgress(points, t0, t0 + 60_000, true), '1 / 4 points done · about 100 s left');
  assert.equal(sweepProgress(points, t0, t0 + 60_000, false), '1 / 4 points done', 'no estimate once it ended');
  assert.equal(sweepProgress(points.slice(2), t0, t0 + 60_000, true), '0 / 2 points done', 'no estimate before any progress');
  assert.equal(sweepProgress(points, null, t0, true), '1 / 4 points done');
  const failed = [{ status: 'failed', progress: { fraction: 0.2 } }, ...points.slice(0, 1)];
  assert.equal(sweepProgress(failed, t0, t0 + 1000, true), '2 / 2 points done', 'a failed point is done');
});

test('duration: seconds, minutes, hours', () => {
  assert.equal(duration(0.2), '1 s');
  assert.equal(duration(40), '40 s');
  assert.equal(duration(600), '10 min');
  assert.equal(duration(3900), '1 h 5 min');
});
