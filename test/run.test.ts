/**
 * test/run.mjs, the runner behind `npm test`: it names the tests that did not run, and under CI (CI=true) a
 * skipped or todo test fails the run, as does a run in which no test ran.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const probes = join('test', 'fixtures', 'runner');

function runner(files: string[], ci: boolean): { code: number | null; stderr: string } {
  const env = { ...process.env, CI: ci ? 'true' : 'false' };
  const r = spawnSync(process.execPath, [join('test', 'run.mjs'), ...files], { encoding: 'utf8', env });
  return { code: r.status, stderr: r.stderr };
}

test('skipped and todo tests are named with file, line and reason; locally they do not fail the run', () => {
  const r = runner([join(probes, 'skips.probe.ts')], false);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /3 test\(s\) did not run:/);
  assert.match(r.stderr, /skipped: test\/fixtures\/runner\/skips\.probe\.ts:5 a check skipped by option \(no such tool\)/);
  assert.match(r.stderr, /skipped: test\/fixtures\/runner\/skips\.probe\.ts:6 a check that skips itself \(python missing\)/);
  assert.match(r.stderr, /todo: test\/fixtures\/runner\/skips\.probe\.ts:9 a check left to do \(later\)/);
});

test('under CI a skipped test fails the run; a run where everything ran passes', () => {
  const skipped = runner([join(probes, 'skips.probe.ts')], true);
  assert.equal(skipped.code, 1);
  assert.match(skipped.stderr, /3 test\(s\) did not run \(CI=true: this fails the run\)/);
  const clean = runner([join(probes, 'passes.probe.ts')], true);
  assert.equal(clean.code, 0, clean.stderr);
  assert.doesNotMatch(clean.stderr, /did not run/);
});
