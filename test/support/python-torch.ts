/**
 * Debian's python3 with torch, for tests that check our files against PyTorch itself. Locally a
 * missing torch skips the test; under CI (CI=true, which installs python3-torch) it fails instead.
 */
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const PYTHON = '/usr/bin/python3';

/** True when torch can be used; otherwise skips `t` (or, under CI, throws). */
export function requireTorch(t: TestContext): boolean {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status === 0) return true;
  const why = `${PYTHON} with torch is not available: ${(probe.stderr || String(probe.error ?? '')).trim().split('\n').at(-1)}`;
  if (process.env.CI === 'true') throw new Error(`${why} (CI installs python3-torch, so this is a failure)`);
  t.skip(why);
  return false;
}

/** Runs a Python script with `input` on stdin; returns stdout, throwing with stderr on failure. */
export function runPython(script: string, input: string, args: string[] = []): string {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
