/**
 * run-job's side of a job's event log: events are buffered and appended to the registry as one page
 * per batch (a page is full at `maxEvents`, or `intervalMs` after its first event), so a job of K steps
 * writes about K / (metrics interval x page size) objects, never one per step and never a rewrite of a
 * growing object. Writes are serialised (pages keep their order); a failed write keeps its events for
 * the next flush.
 */
import type { NewJobEvent } from '../../shared/job-events.ts';
import type { Registry } from '../../shared/registry/index.ts';

export interface EventLogOptions {
  registry: Registry;
  jobId: string;
  /** Events per page before it is written (default 100). */
  maxEvents?: number;
  /** Milliseconds an event may wait in the buffer (default 5000). */
  intervalMs?: number;
  /** Reports a failed write (the events stay buffered). */
  onError: (err: Error) => void;
  now?: () => number;
}

export class JobEventLog {
  private buffer: NewJobEvent[] = [];
  private firstAt = 0;
  private writing: Promise<void> = Promise.resolve();
  private nextSeq: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxEvents: number;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(private readonly o: EventLogOptions) {
    this.maxEvents = o.maxEvents ?? 100;
    this.intervalMs = o.intervalMs ?? 5000;
    this.now = o.now ?? Date.now;
  }

  /** Buffers an event; writes the page when it is full or old enough (`now`: at once, e.g. a state change). */
  add(event: NewJobEvent, now = false): void {
    if (this.buffer.length === 0) this.firstAt = this.now();
    this.buffer.push(event);
    if (now || this.buffer.length >= this.maxEvents || this.now() - this.firstAt >= this.intervalMs) {
      void this.flush();
      return;
    }
    // The training loop checks the age at each event; the timer covers quiet spells (publishing, evaluation).
    this.timer ??= setTimeout(() => void this.flush(), this.intervalMs).unref();
  }

  /** Writes what is buffered (if anything); resolves once every write so far has ended. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(async () => {
      while (this.buffer.length > 0) {
        const batch = this.buffer.slice(0, this.maxEvents);
        try {
          const { seq } = await this.o.registry.jobs.appendEvents(this.o.jobId, batch, this.nextSeq);
          this.nextSeq = seq + 1;
          this.buffer = this.buffer.slice(batch.length);
        } catch (err) {
          this.nextSeq = undefined; // re-read the last page's seq next time
          this.o.onError(err as Error);
          return;
        }
      }
    });
    return this.writing;
  }
}
