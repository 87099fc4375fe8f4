/**
 * The seam between the isomorphic runtime and an onnxruntime build (onnxruntime-node on a worker
 * thread, onnxruntime-web in a page): an engine runs the serving graph of one (base, variant) and
 * returns the logits. The runtime builds every per-request feed; the engine owns the base weights.
 */
import type { AdapterNonlinearity } from '../shared/adapter-config.ts';
import type { ServingBase } from './base.ts';
import type { Tracer } from './trace.ts';

export type FeedTensor = { type: 'int64'; data: BigInt64Array; dims: number[] } | { type: 'float32'; data: Float32Array; dims: number[] };

/** A structural variant of the serving graph (mirrors serving-graph.ts's ServingVariant). */
export interface Variant {
  nonlinearity: AdapterNonlinearity;
  usesPooler: boolean;
}

export const variantKey = (v: Variant): string => `${v.nonlinearity}/${v.usesPooler ? 'pooler' : 'cls'}`;

/** One adapter's per-task feeds, packed alone (serving-graph.ts's packAdapters of U = 1). */
export type PackedFeeds = Record<string, { data: Float32Array; dims: number[] }>;

/**
 * An adapter as a run names it: `key` identifies its packed feeds for as long as it stays in the cache, so
 * an engine may build what it needs of them once and reuse it every run (the Node engine keeps them on its
 * worker), until `EngineProvider.forget`.
 */
export interface EngineAdapter {
  key: string;
  packed: PackedFeeds;
}

export interface Engine {
  /**
   * One run of the serving graph: logits [B, L] row-major. `rows` are the row feeds (ids, mask, types, and
   * adapter_index when several adapters mix: slot u is `adapters[u]`). One adapter: no adapter_index, its
   * packed feeds go to the graph as they are (no per-row gather). The engine stacks several adapters itself
   * (stackPacked), so the Node engine does it on its worker, off the server's event loop.
   */
  run(
    rows: Record<string, FeedTensor>,
    adapters: readonly EngineAdapter[],
    trace?: Tracer,
  ): Promise<{ data: Float32Array; dims: number[] }>;
}

/** Creates one engine per (base, variant), once; `close` releases them all. */
export interface EngineProvider {
  engine(base: ServingBase, variant: Variant): Promise<Engine>;
  /** The adapter left the cache: drop what was built of its feeds (a later run of it still works, uncached). */
  forget?(adapter: EngineAdapter): void;
  close(): Promise<void>;
}
