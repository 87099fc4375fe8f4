/**
 * One training run of a sweep in a child process (`--parallel N`): the parent forks the trainer's own
 * entry with a hidden command, sends the run's options over IPC and gets back the seconds it took or
 * the error it failed with. A process per run keeps runs' memory and onnxruntime threads apart.
 */
import { fork } from 'node:child_process';
import { type TrainOptions, train } from '../train/trainer.ts';

/** The hidden command a forked child runs. */
export const SWEEP_RUN_COMMAND = 'sweep-run';

/** TrainOptions without its callbacks: what crosses the process boundary. */
export type PlainTrainOptions = Omit<TrainOptions, 'log' | 'onCheckpoint' | 'onStep'>;

type RunReply = { ok: true; seconds: number } | { ok: false; error: string };

/** Where the child starts: the running trainer's entry script with the same Node flags (tsx or the bundle). */
export interface ChildEntry {
  script: string;
  execArgv: string[];
}

export const currentEntry = (): ChildEntry => ({ script: process.argv[1], execArgv: process.execArgv });

/** Trains `options` in a child process; resolves with the training's seconds, rejects with its error. */
export function trainInChild(options: PlainTrainOptions, entry: ChildEntry): Promise<number> {
  return new Promise((done, fail) => {
    const child = fork(entry.script, [SWEEP_RUN_COMMAND], { execArgv: entry.execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let reply: RunReply | null = null;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on('message', (m) => {
      reply = m as RunReply;
    });
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      const r = reply as RunReply | null;
      if (r?.ok) done(r.seconds);
      else
        fail(new Error(r?.error ?? `training process exited with ${signal ?? `code ${code}`}: ${stderr.trim().split('\n').at(-1) ?? ''}`));
    });
    child.send(options);
  });
}

/** The child's side: receive one run's options, train quietly, reply, exit. */
export function serveChildRun(): void {
  process.once('message', async (options) => {
    const send = (reply: RunReply) => new Promise<void>((r) => process.send!(reply, () => r()));
    try {
      const started = performance.now();
      await train({ ...(options as PlainTrainOptions), log: () => {} });
      await send({ ok: true, seconds: (performance.now() - started) / 1000 });
    } catch (err) {
      await send({ ok: false, error: (err as Error).message });
      process.exitCode = 1;
    }
    process.disconnect();
  });
}
