/**
 * Micro-batching: rows of concurrent requests that share one serving graph (same base and variant) run
 * together, whatever adapter each row uses: the batch carries every adapter it needs and `adapter_index`
 * says which row uses which (mixed-adapter batches, S-LoRA's idea for bottleneck adapters); a batch of
 * one adapter runs without it. Continuous batching, as vLLM and TGI do: a row that finds the engine idle
 * runs at once; rows that arrive while a run is in flight coalesce into the next batch, which starts the
 * moment that run ends (one run at a time per graph). So a row waits at most for the run in flight and
 * the runs of older rows ahead of it (FIFO, `maxRows` a run). `maxWaitMs` > 0 opts into an idle window
 * instead (a run starts when `maxRows` rows wait or `maxWaitMs` after the first).
 *
 * A mixed batch pads every adapter to the widest of them, so a batch takes the oldest row's adapter and
 * then only adapters that keep it within `maxAdapters` and `maxPaddedBytes`, and whose padding adds at
 * most half the batch's own bytes (adapters of like shapes mix; rows left out wait, in order, for the next
 * run): one wide adapter runs alone on its own feeds instead of widening 31 others.
 * Rows whose request was abandoned (its AbortSignal) leave the queue before they are computed.
 */
import type { Encoding } from '../trainer/tokenizer/bert-tokenizer-core.ts';
import type { Engine, FeedTensor, PackedFeeds } from './engine.ts';
import type { Tracer } from './trace.ts';

export type { PackedFeeds } from './engine.ts';

/** What a row needs of its adapter: an identity for slots, how many logits are its own, its packed feeds. */
export interface BatchAdapter {
  key: string;
  numLabels: number;
  packed: PackedFeeds;
}

interface PendingRow<A extends BatchAdapter> {
  adapter: A;
  /** performance.now() at submit, when tracing. */
  at?: number;
  enc: Encoding;
  signal?: AbortSignal;
  resolve: (logits: Float32Array) => void;
  reject: (err: unknown) => void;
}

export interface BatcherOptions {
  engine: () => Promise<Engine>;
  padId: number;
  maxRows: number;
  /** 0 (the default): a row finding the engine idle runs at once; > 0: it waits up to this long for company. */
  maxWaitMs: number;
  /** Distinct adapters in one run at most. */
  maxAdapters: number;
  /** Bytes of stacked (padded) per-task feeds one mixed run may take; an adapter alone runs on its own feeds. */
  maxPaddedBytes: number;
  /** Per-request spans (trace.ts), off when absent. */
  trace?: Tracer;
}

/** One run, as kept in the ring of recent runs. */
export interface RunRecord {
  rows: number;
  adapters: number;
  /** Bytes of the stacked per-task feeds (0: one adapter, its own feeds). */
  paddedBytes: number;
}

/** Totals since the batcher started: counters, constant memory however long it serves. */
export interface BatcherStats {
  runs: number;
  rows: number;
  mixedRuns: number;
  /** Rows of abandoned requests removed before they ran. */
  droppedRows: number;
  /** The largest paddedBytes of any run. */
  maxPaddedBytes: number;
}

/** Padding a mixed batch may always add, whatever its own bytes (small adapters of any shapes mix). */
export const PAD_SLACK_BYTES = 4 * 1024 * 1024;

/**
 * The shape a mixed batch stacks to (serving-graph.ts's stackPacked: every axis but the first padded to the
 * largest), grown one adapter at a time, so that trying a candidate costs one pass over its feeds.
 */
class StackShape {
  private readonly largest = new Map<string, number[]>();
  private count = 0;
  private own = 0;

  /** Stacked and own bytes were `packed` added (every pack of one base has the same feed names). */
  with(packed: PackedFeeds): { stacked: number; own: number } {
    let slot = 0;
    let own = 0;
    for (const [name, t] of Object.entries(packed)) {
      const cur = this.largest.get(name);
      let padded = 1;
      let alone = 1;
      for (let i = 1; i < t.dims.length; i++) {
        padded *= Math.max(cur?.[i] ?? 0, t.dims[i]);
        alone *= t.dims[i];
      }
      slot += padded;
      own += alone;
    }
    return { stacked: (this.count + 1) * slot * 4, own: this.own + own * 4 };
  }

  add(packed: PackedFeeds): void {
    this.own = this.with(packed).own;
    this.count++;
    for (const [name, t] of Object.entries(packed)) {
      const cur = this.largest.get(name);
      this.largest.set(
        name,
        t.dims.map((n, i) => Math.max(cur?.[i] ?? 0, n)),
      );
    }
  }
}

/** Runs kept for tests and benchmarks to look at; older ones are only counted. */
export const RECENT_RUNS = 256;

export class MicroBatcher<A extends BatchAdapter> {
  private pending: PendingRow<A>[] = [];
  private running = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly ring: RunRecord[] = [];
  private ringNext = 0;
  readonly stats: BatcherStats = { runs: 0, rows: 0, mixedRuns: 0, droppedRows: 0, maxPaddedBytes: 0 };

  constructor(private readonly o: BatcherOptions) {}

  /** Rows waiting for a run. */
  get waiting(): number {
    return this.pending.length;
  }

  /** The last RECENT_RUNS runs, oldest first. */
  recent(): RunRecord[] {
    return [...this.ring.slice(this.ringNext), ...this.ring.slice(0, this.ringNext)];
  }

  /**
   * The logits of each row (its adapter's labels only), in order. When `signal` aborts, rows not yet
   * running leave the queue and the promise rejects with the signal's reason.
   */
  submit(adapter: A, rows: readonly Encoding[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const mine: PendingRow<A>[] = [];
    const out = Promise.all(
      rows.map(
        (enc) =>
          new Promise<Float32Array>((resolve, reject) => {
            const row = { adapter, enc, signal, resolve, reject, at: this.o.trace ? performance.now() : undefined };
            mine.push(row);
            this.pending.push(row);
          }),
      ),
    );
    if (signal) {
      const drop = () => this.drop(new Set(mine), signal.reason);
      signal.addEventListener('abort', drop, { once: true });
      out.then(
        () => signal.removeEventListener('abort', drop),
        () => signal.removeEventListener('abort', drop),
      );
    }
    this.schedule();
    return out;
  }

  private drop(rows: ReadonlySet<PendingRow<A>>, reason: unknown): void {
    const kept: PendingRow<A>[] = [];
    for (const r of this.pending) {
      if (!rows.has(r)) kept.push(r);
      else {
        this.stats.droppedRows++;
        r.reject(reason);
      }
    }
    this.pending = kept;
  }

  private schedule(): void {
    if (this.running || this.pending.length === 0) return;
    // An idle engine takes the rows at once (the default); rows arriving during a run wait for its end (start is
    // called again from its finally), whatever maxWaitMs says.
    if (this.pending.length >= this.o.maxRows || this.o.maxWaitMs <= 0) {
      this.start();
      return;
    }
    this.timer ??= setTimeout(() => this.start(), this.o.maxWaitMs);
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) return;
    const batch = this.take();
    if (batch.rows.length === 0) return;
    this.running = true;
    this.run(batch)
      .catch((err: unknown) => {
        for (const r of batch.rows) r.reject(err);
      })
      .finally(() => {
        this.running = false;
        this.schedule();
      });
  }

  /**
   * The next batch: the oldest row's adapter, then rows in order whose adapter is in the batch already or
   * fits the adapter and padded-bytes budgets; the others stay queued, in order.
   */
  private take(): { rows: PendingRow<A>[]; adapters: A[]; paddedBytes: number } {
    const rows: PendingRow<A>[] = [];
    const adapters: A[] = [];
    const slots = new Set<string>();
    const shape = new StackShape();
    const refused = new Set<string>();
    const rest: PendingRow<A>[] = [];
    let paddedBytes = 0;
    for (const r of this.pending) {
      if (r.signal?.aborted) {
        this.stats.droppedRows++;
        r.reject(r.signal.reason);
        continue;
      }
      const key = r.adapter.key;
      let fits = rows.length < this.o.maxRows && !refused.has(key);
      if (fits && !slots.has(key) && adapters.length > 0) {
        const { stacked, own } = adapters.length < this.o.maxAdapters ? shape.with(r.adapter.packed) : { stacked: Infinity, own: 0 };
        if (stacked <= this.o.maxPaddedBytes && stacked - own <= Math.max(own / 2, PAD_SLACK_BYTES)) paddedBytes = stacked;
        else fits = false;
      }
      if (!fits) {
        refused.add(key);
        rest.push(r);
        continue;
      }
      if (!slots.has(key)) {
        slots.add(key);
        adapters.push(r.adapter);
        shape.add(r.adapter.packed);
      }
      rows.push(r);
    }
    this.pending = rest;
    return { rows, adapters, paddedBytes };
  }

  private async run({ rows, adapters, paddedBytes }: { rows: PendingRow<A>[]; adapters: A[]; paddedBytes: number }): Promise<void> {
    const trace = this.o.trace;
    const t0 = trace ? performance.now() : 0;
    if (trace) for (const r of rows) trace('queue', t0 - (r.at ?? t0));
    const slotOf = new Map(adapters.map((a, u) => [a.key, u]));
    const B = rows.length;
    let S = 0;
    for (const r of rows) S = Math.max(S, r.enc.inputIds.length);
    const ids = new BigInt64Array(B * S).fill(BigInt(this.o.padId));
    const types = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * S);
    const index = new BigInt64Array(B);
    rows.forEach((r, b) => {
      const { inputIds, tokenTypeIds } = r.enc;
      for (let s = 0; s < inputIds.length; s++) {
        ids[b * S + s] = BigInt(inputIds[s]);
        types[b * S + s] = BigInt(tokenTypeIds[s]);
        mask[b * S + s] = 1n;
      }
      index[b] = BigInt(slotOf.get(r.adapter.key)!);
    });
    const feeds: Record<string, FeedTensor> = {
      input_ids: { type: 'int64', data: ids, dims: [B, S] },
      attention_mask: { type: 'int64', data: mask, dims: [B, S] },
      token_type_ids: { type: 'int64', data: types, dims: [B, S] },
    };
    // One adapter: no adapter_index, the engine feeds its packed tensors directly (no per-row gather).
    if (adapters.length > 1) feeds.adapter_index = { type: 'int64', data: index, dims: [B] };
    if (trace) trace('rowFeeds', performance.now() - t0);
    const engine = await this.o.engine();
    const out = await engine.run(feeds, adapters, trace);
    this.record({ rows: B, adapters: adapters.length, paddedBytes });
    const L = out.dims[1];
    // Views of the run's own logits buffer (it came back transferred): no copy per row.
    rows.forEach((r, b) => r.resolve(out.data.subarray(b * L, b * L + r.adapter.numLabels)));
  }

  private record(run: RunRecord): void {
    const s = this.stats;
    s.runs++;
    s.rows += run.rows;
    if (run.adapters > 1) s.mixedRuns++;
    s.maxPaddedBytes = Math.max(s.maxPaddedBytes, run.paddedBytes);
    if (this.ring.length < RECENT_RUNS) this.ring.push(run);
    else this.ring[this.ringNext] = run;
    this.ringNext = (this.ringNext + 1) % RECENT_RUNS;
  }

  /** Fails every waiting row (the predictor is closing). */
  drain(err: Error): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const r of this.pending.splice(0)) r.reject(err);
  }
}
