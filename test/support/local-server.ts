/**
 * `npm start`'s server as its own process, started exactly as the package.json script starts it (the
 * same node flags) on free ports with a given store directory; resolves once it listens, with the URLs
 * its banner prints. For the server tests and the load benchmark.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');

export interface LocalServer {
  proc: ChildProcess;
  /** http://127.0.0.1:<port> of the API. */
  url: string;
  /** The registry it serves (file:///<store>/adapter-store), as its banner prints it. */
  registryUri: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Signals it, or with `group` its whole process group (a terminal's Ctrl-C); resolves to its exit code. */
  stop(signal: NodeJS.Signals, group?: boolean): Promise<number | null>;
}

export function startLocalServer(o: { store: string; env?: Record<string, string>; ownGroup?: boolean }): Promise<LocalServer> {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [node, ...args] = pkg.scripts.start.split(' ');
  if (node !== 'node') throw new Error(`npm start runs "${node}", not node`);
  const proc = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...process.env, PORT: '0', ADAPTER_STORE_DIR: o.store, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: o.ownGroup === true,
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = (signal: NodeJS.Signals, group = false) =>
    new Promise<number | null>((done) => {
      proc.removeAllListeners('exit');
      proc.on('exit', (code) => done(code));
      if (group) process.kill(-proc.pid!, signal);
      else proc.kill(signal);
    });
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${out}`)), 60_000);
    proc.on('exit', (code) => fail(new Error(`server exited (${code}):\n${out}`)));
    proc.stdout!.on('data', () => {
      const m = /listening on (http:\/\/\S+)[\s\S]*registry: +(file:\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done({ proc, url: m[1], registryUri: m[2], output: () => out, stop });
      }
    });
  });
}
