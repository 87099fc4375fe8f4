/**
 * Runs a command to its end and collects its output, asynchronously: a test whose S3 server runs in
 * its own process must not block the event loop (spawnSync would stall the server the child talks to).
 * Tests that serve nothing meanwhile may run the trainer CLI synchronously (runTrainerCliSync).
 */
import { spawn, spawnSync } from 'node:child_process';

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runProcess(
  command: string,
  args: readonly string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ProcessResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

/** The trainer CLI (`node --import tsx trainer/cli.ts ...`) from the repository root. */
export function runTrainerCli(args: readonly string[], env: Record<string, string> = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, ['--import', 'tsx', 'trainer/cli.ts', ...args], {
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ...env },
  });
}

/** The trainer CLI run to its end synchronously: for tests that serve nothing while it runs. */
export function runTrainerCliSync(
  args: readonly string[],
  env: Record<string, string> = {},
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'trainer/cli.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `trainer train --base <base> --data <data> --out <out>` with `opts` (flags without paths) and `more` (with them). */
export function trainOn(base: string, data: string) {
  return (out: string, opts: string, ...more: string[]) =>
    runTrainerCliSync(['train', '--base', base, '--data', data, '--out', out, ...flags(opts), ...more]);
}

/** Command-line flags written as one string, split at spaces: for flags and values that hold none (not paths). */
export function flags(line: string): string[] {
  return line.trim().split(/\s+/);
}
