/** runFingerprint: the hash of the options a resume must agree on, blind to the ones it may change. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { runFingerprint } from '../../../trainer/util/fingerprint.ts';

const options = { lr: 0.001, out: '/tmp/a', seed: 3, threads: 2 };

test('the SHA-256 of {rest, ...context} as JSON, without the keys that may differ', () => {
  const expected = createHash('sha256').update('{"rest":{"lr":0.001,"seed":3},"rows":40}').digest('hex');
  assert.equal(runFingerprint(options, ['out', 'threads'], { rows: 40 }), expected);
});

test('blind to the keys that may differ, not to the others nor to the context', () => {
  const print = runFingerprint(options, ['out', 'threads'], { rows: 40 });
  assert.equal(runFingerprint({ ...options, out: '/tmp/b', threads: 8 }, ['out', 'threads'], { rows: 40 }), print);
  assert.notEqual(runFingerprint({ ...options, seed: 4 }, ['out', 'threads'], { rows: 40 }), print);
  assert.notEqual(runFingerprint(options, ['out', 'threads'], { rows: 41 }), print);
});
