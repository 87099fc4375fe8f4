/**
 * The seam between the isomorphic runtime and an onnxruntime build (onnxruntime-node on a worker
 * thread, onnxruntime-web in a page): an engine runs the serving graph of one (base, variant) and
 * returns the logits. The runtime builds every per-request feed; the engine owns the base weights.
 */
import type { AdapterNonlinearity } from '../shared/adapter-config.ts';
import type { ServingBase } from './base.ts';

export type FeedTensor = { type: 'int64'; data: BigInt64Array; dims: number[] } | { type: 'float32'; data: Float32Array; dims: number[] };

/** A structural variant of the serving graph (mirrors serving-graph.ts's ServingVariant). */
export interface Variant {
  nonlinearity: AdapterNonlinearity;
  usesPooler: boolean;
}

export const variantKey = (v: Variant): string => `${v.nonlinearity}/${v.usesPooler ? 'pooler' : 'cls'}`;

/** One adapter's per-task feeds, packed alone (serving-graph.ts's packAdapters of U = 1). */
export type PackedFeeds = Record<string, { data: Float32Array; dims: number[] }>;

export interface Engine {
  /**
   * One run of the serving graph: logits [B, L] row-major. `rows` are the row feeds (ids, mask, types,
   * adapter_index); slot u of adapter_index is `adapters[u]`. The engine stacks several adapters itself
   * (stackPacked), so the Node engine does it on its worker, off the server's event loop.
   */
  run(rows: Record<string, FeedTensor>, adapters: readonly PackedFeeds[]): Promise<{ data: Float32Array; dims: number[] }>;
}

/** Creates one engine per (base, variant), once; `close` releases them all. */
export interface EngineProvider {
  engine(base: ServingBase, variant: Variant): Promise<Engine>;
  close(): Promise<void>;
}
