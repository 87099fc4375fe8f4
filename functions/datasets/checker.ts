/**
 * The dataset check behind POST /datasets, bounded three ways: at most `concurrency` checks at once
 * (callers beyond get null from tryAcquire and answer 429), each check streams the file in constant
 * memory with a byte, row and line cap (trainer/data/inspect.ts), and in 'worker' mode each runs on a
 * worker thread with a heap limit, off the event loop. 'inline' runs on the calling thread: for Lambda,
 * where a container serves one request at a time and the bundle has no separate worker file.
 */
import { Worker } from 'node:worker_threads';
import {
  DataError,
  DataLimitError,
  type DatasetColumns,
  type DatasetFormat,
  type DatasetSummary,
  type InspectLimits,
  inspectDataset,
} from '../../shared/training-data/index.ts';

export type CheckReply =
  | { ok: true; format: DatasetFormat; rows: number; labels: [string, number][] }
  | { ok: false; message: string; limit?: DataLimitError['limit'] };

export interface DatasetCheckerOptions {
  /** Checks at once (default 2). */
  concurrency?: number;
  /** 'worker' (default): a worker thread per check; 'inline': this thread. */
  mode?: 'worker' | 'inline';
  /** A worker's old-generation heap in MB (default 256): a check that needs more fails, the server does not. */
  heapMb?: number;
  limits: InspectLimits;
}

const WORKER = new URL(`./check-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export class DatasetChecker {
  readonly concurrency: number;
  readonly limits: InspectLimits;
  private readonly mode: 'worker' | 'inline';
  private readonly heapMb: number;
  private active = 0;

  constructor(o: DatasetCheckerOptions) {
    this.concurrency = o.concurrency ?? 2;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1)
      throw new Error(`dataset check concurrency must be a positive integer, got ${this.concurrency}`);
    this.mode = o.mode ?? 'worker';
    this.heapMb = o.heapMb ?? 256;
    this.limits = o.limits;
  }

  /** A slot for one check (its release function), or null when `concurrency` checks are running. */
  tryAcquire(): (() => void) | null {
    if (this.active >= this.concurrency) return null;
    this.active++;
    let released = false;
    return () => {
      if (!released) this.active--;
      released = true;
    };
  }

  /** Checks a local file; throws a DataError (a DataLimitError past a limit) for a bad or oversized dataset. */
  async check(file: string, columns: DatasetColumns = {}): Promise<DatasetSummary> {
    const reply = this.mode === 'inline' ? await runCheck(file, this.limits, columns) : await this.workerCheck(file, columns);
    if (!reply.ok) throw reply.limit ? new DataLimitError(reply.message, reply.limit) : new DataError(reply.message);
    return { format: reply.format, rows: reply.rows, labels: new Map(reply.labels) };
  }

  private workerCheck(file: string, columns: DatasetColumns): Promise<CheckReply> {
    return new Promise((resolve, reject) => {
      const options = { workerData: { file, limits: this.limits, columns }, resourceLimits: { maxOldGenerationSizeMb: this.heapMb } };
      const worker = WORKER.pathname.endsWith('.ts')
        ? new Worker(tsWorkerBootstrap(WORKER), { ...options, eval: true })
        : new Worker(WORKER, options);
      let settled = false;
      worker.once('message', (reply: CheckReply) => {
        settled = true;
        resolve(reply);
      });
      worker.once('error', (err: Error & { code?: string }) => {
        settled = true;
        if (err.code === 'ERR_WORKER_OUT_OF_MEMORY')
          resolve({ ok: false, message: `the dataset check ran out of its ${this.heapMb} MB of memory`, limit: 'bytes' });
        else reject(err);
      });
      worker.once('exit', (code) => {
        if (!settled) reject(new Error(`the dataset check worker exited with code ${code} before answering`));
      });
    });
  }
}

/**
 * Under tsx (npm start, tests) the worker entry is TypeScript, which a worker cannot load by itself
 * (on Node 20 `--import tsx` in a worker's execArgv runs after its entry is resolved): a one-line
 * script imports it through tsx's API.
 */
function tsWorkerBootstrap(entry: URL): string {
  const api = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(entry.href)}));`;
}

/** One check on this thread, its outcome as a plain (cloneable) reply. */
export async function runCheck(file: string, limits: InspectLimits, columns: DatasetColumns = {}): Promise<CheckReply> {
  try {
    const s = await inspectDataset(file, limits, columns);
    return { ok: true, format: s.format, rows: s.rows, labels: [...s.labels] };
  } catch (err) {
    if (err instanceof DataLimitError) return { ok: false, message: err.message, limit: err.limit };
    if (err instanceof DataError) return { ok: false, message: err.message };
    throw err;
  }
}
