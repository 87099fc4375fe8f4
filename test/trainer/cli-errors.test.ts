/**
 * The trainer CLI answering a mistyped command line: commander's one line (with its "Did you mean"),
 * then a pointer to the command's --help; never the whole help, on every command.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTrainerCliSync } from '../support/process.ts';

const COMMANDS = ['train', 'predict', 'eval', 'run-job', 'export', 'download', 'init-base', 'upload-base', 'pretrain', 'sweep', 'ablate'];

test('every command: an unknown option (or a missing required one) is one line and a --help pointer', () => {
  const listed = runTrainerCliSync(['--help']).stdout;
  for (const cmd of COMMANDS) assert.match(listed, new RegExp(`^  ${cmd} `, 'm'), `${cmd} is a command`);
  for (const cmd of COMMANDS) {
    const r = runTrainerCliSync([cmd, '--no-such-option']);
    assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.ok(lines.length <= 3, `${cmd}: ${lines.length} lines:\n${r.stderr}`);
    assert.match(lines[0], /^error: /);
    assert.equal(lines[lines.length - 1], `Try "trainer ${cmd} --help" for its options.`);
    assert.doesNotMatch(r.stderr, /Usage:/);
  }
});

test('an unknown option names the likely one; an unknown command points to the list', () => {
  const r = runTrainerCliSync(['train', '--base', 'b', '--data', 'd', '--out', 'o', '--lrr', '1']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `error: unknown option '--lrr'\n(Did you mean --lr?)\nTry "trainer train --help" for its options.\n`);
  const c = runTrainerCliSync(['trian']);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /^error: unknown command 'trian'\n\(Did you mean train\?\)\nTry "trainer --help" for the commands\.\n$/);
});
