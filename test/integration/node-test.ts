/**
 * Runs the integration test files with node's test runner in a child process, asynchronously (an
 * emulator in the calling process must keep serving while the tests run), and reads the TAP summary:
 * node --test exits 0 having run nothing when given no files, so "# pass 0" counts as a failure.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** test/integration/*.test.ts, or the ones named on the command line. */
export function integrationTestFiles(only: string[] = []): string[] {
  if (only.length > 0) return only;
  const dir = join(REPO_ROOT, 'test', 'integration');
  return readdirSync(dir)
    .filter((n) => n.endsWith('.test.ts'))
    .sort()
    .map((n) => relative(REPO_ROOT, join(dir, n)));
}

export interface SuiteResult {
  ok: boolean;
  exitCode: number;
  pass: number;
  fail: number;
}

export function runNodeTests(files: string[], env: NodeJS.ProcessEnv): Promise<SuiteResult> {
  return new Promise((resolvePromise, reject) => {
    if (files.length === 0) return reject(new Error('no integration test files found'));
    // One file at a time: the files share the queue (and, emulated, a one-job compute environment).
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=tap', ...files], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let tail = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      process.stdout.write(s);
      tail = (tail + s).slice(-4096);
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.once('error', reject);
    child.once('close', (code) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(tail)?.[1] ?? 0);
      const pass = count('pass');
      const fail = count('fail');
      const exitCode = code ?? 1;
      resolvePromise({ ok: exitCode === 0 && pass > 0 && fail === 0, exitCode, pass, fail });
    });
  });
}
