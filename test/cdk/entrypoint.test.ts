/** The trainer image's entrypoint (cdk/trainer-image/entrypoint.sh): GPU by default for commands that take --device. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRYPOINT = fileURLToPath(new URL('../../cdk/trainer-image/entrypoint.sh', import.meta.url));

/** Runs the entrypoint with a stand-in `node` that prints the arguments it was given. */
function argsFor(args: string[], env: Record<string, string> = {}): string[] {
  const bin = mkdtempSync(join(tmpdir(), 'entrypoint-'));
  try {
    writeFileSync(join(bin, 'node'), '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
    chmodSync(join(bin, 'node'), 0o755);
    const r = spawnSync('sh', [ENTRYPOINT, ...args], { env: { PATH: `${bin}:/usr/bin:/bin`, ...env }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n').slice(2); // drop --enable-source-maps and the bundle path
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

test('the API\'s run-job override trains on CUDA', () => {
  assert.deepEqual(argsFor(['run-job', '--registry', 's3://b', '--job', 'j1']), ['run-job', '--registry', 's3://b', '--job', 'j1', '--device', 'cuda']);
});

test('an explicit --device wins, TRAINER_DEVICE sets the default', () => {
  assert.deepEqual(argsFor(['train', '--device', 'cpu', '--base', 'x']), ['train', '--device', 'cpu', '--base', 'x']);
  assert.deepEqual(argsFor(['eval', '--device=cpu']), ['eval', '--device=cpu']);
  assert.deepEqual(argsFor(['predict'], { TRAINER_DEVICE: 'cpu' }), ['predict', '--device', 'cpu']);
});

test('commands without --device pass through unchanged', () => {
  assert.deepEqual(argsFor(['init-base', '--out', '/tmp/x']), ['init-base', '--out', '/tmp/x']);
  assert.deepEqual(argsFor(['--help']), ['--help']);
});
