/**
 * Micro-batching: rows of concurrent requests that share one serving graph (same base and variant) run
 * together, whatever adapter each row uses: the batch carries every adapter it needs in its packed feeds
 * and `adapter_index` says which row uses which (mixed-adapter batches, S-LoRA's idea for bottleneck
 * adapters). A run starts when `maxRows` rows wait or `maxWaitMs` after the first one; one run at a time
 * per graph, so rows that arrive during a run form the next batch.
 */
import type { Encoding } from '../tokenizer/bert-tokenizer-core.ts';
import type { Engine, FeedTensor } from './engine.ts';

/** What a row needs of its adapter: an identity for slots, and how many logits are its own. */
export interface BatchAdapter {
  key: string;
  numLabels: number;
}

export type PackedFeeds = Record<string, { data: Float32Array; dims: number[] }>;

interface PendingRow<A extends BatchAdapter> {
  adapter: A;
  enc: Encoding;
  resolve: (logits: Float32Array) => void;
  reject: (err: unknown) => void;
}

export interface BatcherOptions<A extends BatchAdapter> {
  engine: () => Promise<Engine>;
  /** The per-task feeds of these adapters, slot i = adapters[i]. */
  pack: (adapters: readonly A[]) => PackedFeeds;
  padId: number;
  maxRows: number;
  maxWaitMs: number;
}

export class MicroBatcher<A extends BatchAdapter> {
  private pending: PendingRow<A>[] = [];
  private running = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Runs so far and the rows and adapters of each (for tests and benchmarks). */
  readonly history: { rows: number; adapters: number }[] = [];

  constructor(private readonly o: BatcherOptions<A>) {}

  /** The logits of each row (its adapter's labels only), in order. */
  submit(adapter: A, rows: readonly Encoding[]): Promise<Float32Array[]> {
    const out = Promise.all(
      rows.map((enc) => new Promise<Float32Array>((resolve, reject) => this.pending.push({ adapter, enc, resolve, reject }))),
    );
    this.schedule();
    return out;
  }

  private schedule(): void {
    if (this.running || this.pending.length === 0) return;
    if (this.pending.length >= this.o.maxRows || this.o.maxWaitMs <= 0) {
      this.start();
      return;
    }
    this.timer ??= setTimeout(() => this.start(), this.o.maxWaitMs);
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running || this.pending.length === 0) return;
    this.running = true;
    const rows = this.pending.splice(0, this.o.maxRows);
    this.run(rows)
      .catch((err: unknown) => {
        for (const r of rows) r.reject(err);
      })
      .finally(() => {
        this.running = false;
        this.schedule();
      });
  }

  private async run(rows: PendingRow<A>[]): Promise<void> {
    const slots = new Map<string, number>();
    const adapters: A[] = [];
    for (const r of rows) {
      if (!slots.has(r.adapter.key)) {
        slots.set(r.adapter.key, adapters.length);
        adapters.push(r.adapter);
      }
    }
    const B = rows.length;
    const S = Math.max(...rows.map((r) => r.enc.inputIds.length));
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
      index[b] = BigInt(slots.get(r.adapter.key)!);
    });
    const feeds: Record<string, FeedTensor> = {
      input_ids: { type: 'int64', data: ids, dims: [B, S] },
      attention_mask: { type: 'int64', data: mask, dims: [B, S] },
      token_type_ids: { type: 'int64', data: types, dims: [B, S] },
      adapter_index: { type: 'int64', data: index, dims: [B] },
    };
    for (const [name, t] of Object.entries(this.o.pack(adapters))) feeds[name] = { type: 'float32', data: t.data, dims: t.dims };
    const engine = await this.o.engine();
    const out = await engine.run(feeds);
    this.history.push({ rows: B, adapters: adapters.length });
    const L = out.dims[1];
    rows.forEach((r, b) => r.resolve(out.data.slice(b * L, b * L + r.adapter.numLabels)));
  }

  /** Fails every waiting row (the predictor is closing). */
  drain(err: Error): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const r of this.pending.splice(0)) r.reject(err);
  }
}
