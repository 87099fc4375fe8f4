/**
 * The local runner's trainer processes, one pid file per job in a folder of the store. A server killed
 * outright leaves its trainers running until they notice (their stdin pipe closes: they stop at their
 * next step, after the checkpoint upload in flight, and leave the job queued). A server started again
 * waits for such a trainer to be gone before it runs the job again, so two trainers never write one
 * job's checkpoint, status and events at once.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 100;

/** Whether `pid` is a live process running job `jobId` (its command line names it, where /proc says so). */
function runsJob(pid: number, jobId: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(jobId);
  } catch {
    return process.platform !== 'linux'; // no /proc to ask: the live pid is taken at its word
  }
}

export class TrainerPids {
  constructor(readonly dir: string) {}

  private file(jobId: string): string {
    return join(this.dir, `${jobId}.pid`);
  }

  record(jobId: string, pid: number): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.file(jobId), String(pid));
  }

  clear(jobId: string): void {
    rmSync(this.file(jobId), { force: true });
  }

  /**
   * Resolves once the trainer an earlier runner started for the job is gone (at once when there is none).
   * One still there after `timeoutMs` is killed, with its process group (it runs in its own).
   */
  async waitForPrevious(jobId: string, timeoutMs: number, onWait: (pid: number) => void): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.file(jobId), 'utf8'));
    } catch {
      return;
    }
    if (!Number.isSafeInteger(pid) || pid <= 1 || !runsJob(pid, jobId)) return;
    onWait(pid);
    for (const deadline = Date.now() + timeoutMs; runsJob(pid, jobId); await sleep(POLL_MS)) {
      if (Date.now() > deadline) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
  }
}
