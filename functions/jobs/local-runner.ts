/**
 * The local launcher: runs `trainer run-job --registry <uri> --job <id>` as child processes, at most
 * `concurrency` at a time, the rest waiting in a FIFO queue. Training never runs on the server's event
 * loop: every job is its own process, so a crash or a runaway job cannot take the API down, and cancel
 * is a signal (SIGTERM, then SIGKILL after a grace period).
 *
 * What `describe` reports is what this runner saw: queued, running, the child's exit (0 → succeeded,
 * anything else → failed with the exit code and the last line of its stderr), or cancelled. It knows
 * nothing of jobs from before this process started ('unknown'); the API merges it with status.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobState } from '../../shared/job.ts';
import type { JobLauncher, LaunchedJob, LauncherView } from './launcher.ts';
import { TrainerPids } from './trainer-pids.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The trainer CLI through tsx, resolved from this file's location. */
export const DEFAULT_TRAINER_COMMAND: readonly string[] = [process.execPath, '--import', 'tsx', resolve(REPO_ROOT, 'trainer', 'cli.ts')];

export interface LocalRunnerOptions {
  registryUri: string;
  /** How many jobs train at once (default 1). */
  concurrency?: number;
  /** Added to the (filtered: see childEnv) environment of every child (e.g. AWS_ENDPOINT_URL_S3 and the store's credentials). */
  env?: Record<string, string>;
  /** argv before `run-job ...` (default: node --import tsx <repo>/trainer/cli.ts). */
  command?: string[];
  /** argv after `run-job --registry <uri> --job <id>` (e.g. ['--status-interval', '0', '--threads', '2']). */
  extraArgs?: string[];
  /** Working directory of the children (default: the repository root, so `--import tsx` resolves). */
  cwd?: string;
  /** Milliseconds between SIGTERM and SIGKILL on cancel / shutdown (default 5000). */
  killGraceMs?: number;
  /**
   * Children watch a pipe from this process and stop when it closes, leaving their job queued
   * (`run-job --stop-when-stdin-closes`): they die with this process even when it is killed outright,
   * and shutdown() stops them that way, so the jobs resume when a new runner submits them again.
   */
  stopWithParent?: boolean;
  /**
   * A folder for the children's pid files (the local server's store): a child an earlier runner left
   * stopping is waited for before its job starts again (functions/jobs/trainer-pids.ts).
   */
  pidDir?: string;
  log?: (event: Record<string, unknown>) => void;
}

interface Entry {
  jobId: string;
  task: string;
  state: JobState;
  reason?: string;
  child?: ChildProcess;
  /** Set when cancel or shutdown asked the child to stop. */
  stopping?: 'cancel' | 'shutdown';
  killTimer?: NodeJS.Timeout;
  stderrTail: string;
  exited?: Promise<void>;
}

const STDERR_TAIL_BYTES = 16 * 1024;
/** run-job's exit code when it stopped on request, having reported its job (here: queued to resume). */
const STOPPED_TO_RESUME = 143;

/**
 * What a trainer child inherits from this process's environment: how to run (PATH, Node, locale, temp
 * dirs), onnxruntime/CUDA/BLAS threading, and the trainer's own settings. Never the API key
 * (ADAPTER_STORE_API_KEY) nor the shell's AWS credentials: `env` gives the store's own.
 */
const INHERITED_ENV =
  /^(PATH|HOME|USER|SHELL|TMPDIR|TMP|TEMP|TZ|LANG|LC_[A-Z_]+|SYSTEMROOT|NODE_OPTIONS|NODE_PATH|NODE_EXTRA_CA_CERTS|TSX_[A-Z_]+|ONNXRUNTIME_[A-Z_]+|ORT_[A-Z_]+|CUDA_[A-Z_]+|LD_LIBRARY_PATH|OMP_[A-Z_]+|OPENBLAS_[A-Z_]+|MKL_[A-Z_]+|TRAINER_[A-Z_]+|ADAPTER_STORE_MAX_LINE_CHARS|ADAPTER_STORE_MAX_LABELS|ADAPTER_STORE_MAX_LABEL_CHARS)$/;

/** The environment of a trainer child: the allowed part of `parent`, then `extra`. */
export function childEnv(parent: NodeJS.ProcessEnv, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parent)) if (v !== undefined && INHERITED_ENV.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function lastLine(text: string): string | undefined {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.at(-1);
}

export class LocalRunner implements JobLauncher {
  private readonly registryUri: string;
  private readonly concurrency: number;
  private readonly env: Record<string, string>;
  private readonly command: string[];
  private readonly extraArgs: string[];
  private readonly cwd: string;
  private readonly killGraceMs: number;
  private readonly stopWithParent: boolean;
  private readonly pids: TrainerPids | null;
  private readonly log: (event: Record<string, unknown>) => void;
  private readonly jobs = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private running = 0;
  private closed = false;

  constructor(o: LocalRunnerOptions) {
    const concurrency = o.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
    if (o.command && o.command.length === 0) throw new Error('command must name a program');
    this.registryUri = o.registryUri;
    this.concurrency = concurrency;
    this.env = o.env ?? {};
    this.command = [...(o.command ?? DEFAULT_TRAINER_COMMAND)];
    this.extraArgs = [...(o.extraArgs ?? [])];
    this.cwd = o.cwd ?? REPO_ROOT;
    this.killGraceMs = o.killGraceMs ?? 5000;
    this.stopWithParent = o.stopWithParent ?? false;
    this.pids = o.pidDir === undefined ? null : new TrainerPids(o.pidDir);
    this.log = o.log ?? (() => {});
  }

  /** Enqueues the job and returns at once. Submitting a job that is queued or running returns its handle again. */
  async submit(job: { jobId: string; task: string }): Promise<LaunchedJob> {
    if (this.closed) throw new Error('the local runner is shut down');
    const handle = { jobId: job.jobId, externalId: `local:${job.jobId}` };
    const existing = this.jobs.get(job.jobId);
    if (existing && (existing.state === 'queued' || existing.state === 'running')) return handle;
    const entry: Entry = { jobId: job.jobId, task: job.task, state: 'queued', stderrTail: '' };
    this.jobs.set(job.jobId, entry);
    this.queue.push(entry);
    this.log({ event: 'job-queued', job: job.jobId, queued: this.queue.length, running: this.running });
    this.pump();
    return handle;
  }

  async cancel(job: LaunchedJob): Promise<void> {
    const entry = this.jobs.get(job.jobId);
    if (!entry) return;
    if (entry.state === 'queued') {
      this.queue.splice(this.queue.indexOf(entry), 1);
      entry.state = 'cancelled';
      entry.reason = 'cancelled before it started';
      this.log({ event: 'job-cancelled', job: entry.jobId, while: 'queued' });
      return;
    }
    if (entry.state === 'running' && !entry.child) entry.stopping = 'cancel'; // waiting for an earlier trainer: never starts
    if (entry.state === 'running' && entry.child) {
      this.stop(entry, 'cancel');
      await entry.exited;
    }
  }

  async describe(job: LaunchedJob): Promise<LauncherView> {
    const entry = this.jobs.get(job.jobId);
    if (!entry) return { state: 'unknown' };
    return entry.reason === undefined ? { state: entry.state } : { state: entry.state, reason: entry.reason };
  }

  async activeJobIds(): Promise<string[]> {
    return [...this.jobs.values()].filter((e) => e.state === 'queued' || e.state === 'running').map((e) => e.jobId);
  }

  /** The ids of the jobs running right now. */
  get runningJobIds(): string[] {
    return [...this.jobs.values()].filter((e) => e.state === 'running').map((e) => e.jobId);
  }

  /** Jobs waiting and running right now. */
  get load(): { queued: number; running: number } {
    return { queued: this.queue.length, running: this.running };
  }

  /**
   * Stops taking jobs, stops the running children (SIGTERM: their jobs read 'failed'; with
   * `stopWithParent`, their pipe closes: their jobs stay queued, and so does this runner's view of them)
   * and returns the ids of the jobs that were still queued, in queue order.
   */
  async shutdown(): Promise<string[]> {
    this.closed = true;
    const queued = this.queue.splice(0).map((e) => {
      // Their status.json still reads queued: with stopWithParent they start when the server starts again.
      e.state = this.stopWithParent ? 'queued' : 'failed';
      e.reason = this.stopWithParent
        ? 'not started: the runner shut down; it starts when the server starts again'
        : 'never started: the runner shut down';
      return e.jobId;
    });
    const exits: Promise<void>[] = [];
    for (const e of this.jobs.values()) {
      if (e.state === 'running' && e.child) {
        this.stop(e, 'shutdown');
        if (e.exited) exits.push(e.exited);
      }
    }
    await Promise.all(exits);
    return queued;
  }

  private stop(entry: Entry, why: 'cancel' | 'shutdown'): void {
    const child = entry.child!;
    entry.stopping ??= why;
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (why === 'shutdown' && this.stopWithParent) child.stdin?.end();
    else child.kill('SIGTERM');
    entry.killTimer ??= setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) {
        this.log({ event: 'job-kill', job: entry.jobId, signal: 'SIGKILL' });
        child.kill('SIGKILL');
      }
    }, this.killGraceMs);
  }

  private pump(): void {
    while (!this.closed && this.running < this.concurrency && this.queue.length > 0) this.start(this.queue.shift()!);
  }

  private start(entry: Entry): void {
    entry.state = 'running';
    this.running++;
    if (!this.pids) {
      this.spawnTrainer(entry);
      return;
    }
    const timeoutMs = this.killGraceMs + 60_000;
    void this.pids
      .waitForPrevious(entry.jobId, timeoutMs, (pid) => this.log({ event: 'job-waits-for-previous-trainer', job: entry.jobId, pid }))
      .then(() => this.spawnTrainer(entry));
  }

  private spawnTrainer(entry: Entry): void {
    if (entry.stopping === 'cancel' || this.closed) {
      if (entry.stopping === 'cancel') this.finish(entry, 'cancelled', 'cancelled before it started');
      else this.finish(entry, this.stopWithParent ? 'queued' : 'failed', 'never started: the runner shut down');
      return;
    }
    const [program, ...prefix] = this.command;
    const args = [
      ...prefix,
      'run-job',
      '--registry',
      this.registryUri,
      '--job',
      entry.jobId,
      ...(this.stopWithParent ? ['--stop-when-stdin-closes'] : []),
      ...this.extraArgs,
    ];
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        cwd: this.cwd,
        env: childEnv(process.env, this.env),
        stdio: [this.stopWithParent ? 'pipe' : 'ignore', 'ignore', 'pipe'],
        // Own process group: a terminal's Ctrl-C reaches the server only, which then stops the children
        // through their pipe (leaving their jobs queued) instead of killing them mid-upload.
        detached: this.stopWithParent,
      });
    } catch (err) {
      this.finish(entry, 'failed', `could not start the trainer: ${(err as Error).message}`);
      return;
    }
    entry.child = child;
    if (child.pid !== undefined) this.pids?.record(entry.jobId, child.pid);
    child.stdin?.on('error', () => {}); // a child that already exited: its pipe is gone, nothing to tell
    this.log({ event: 'job-started', job: entry.jobId, pid: child.pid });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      entry.stderrTail = (entry.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    entry.exited = new Promise<void>((done) => {
      let spawnError: Error | undefined;
      child.on('error', (err) => {
        spawnError = err;
        // 'close' does not always follow a failed spawn.
        if (child.pid === undefined) {
          this.finish(entry, 'failed', `could not start the trainer: ${err.message}`);
          done();
        }
      });
      child.on('close', (code, signal) => {
        this.pids?.clear(entry.jobId);
        if (entry.state !== 'running') return done();
        if (entry.killTimer) clearTimeout(entry.killTimer);
        if (entry.stopping === 'cancel') this.finish(entry, 'cancelled', 'cancelled while running');
        // Publishing is not interrupted: a job stopped while it published has succeeded, and says so.
        else if (code === 0) this.finish(entry, 'succeeded');
        else if (entry.stopping === 'shutdown' && this.stopWithParent && code === STOPPED_TO_RESUME)
          // The trainer left its job queued (status.json and its events say so): the log says the same.
          this.finish(entry, 'queued', 'stopped with the runner; it resumes from its last checkpoint when the server starts again');
        else if (entry.stopping === 'shutdown') this.finish(entry, 'failed', 'interrupted by shutdown');
        else {
          const line = lastLine(entry.stderrTail);
          const why = spawnError ? spawnError.message : signal ? `killed by ${signal}` : `exit code ${code}`;
          this.finish(entry, 'failed', line ? `${why}: ${line}` : why);
        }
        done();
      });
    });
  }

  private finish(entry: Entry, state: JobState, reason?: string): void {
    entry.state = state;
    entry.reason = reason;
    entry.child = undefined;
    entry.stderrTail = '';
    this.running--;
    this.log({ event: state === 'queued' ? 'job-stopped' : 'job-finished', job: entry.jobId, state, ...(reason ? { reason } : {}) });
    this.pump();
  }
}
