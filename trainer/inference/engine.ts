/**
 * The seam between the isomorphic runtime and an onnxruntime build (onnxruntime-node on a worker
 * thread, onnxruntime-web in a page): an engine runs the serving graph of one (base, variant) and
 * returns the logits. The runtime builds every per-request feed; the engine owns the base weights.
 */
import type { AdapterNonlinearity } from '../../shared/adapter-config.ts';
import type { ServingBase } from './base.ts';

export type FeedTensor = { type: 'int64'; data: BigInt64Array; dims: number[] } | { type: 'float32'; data: Float32Array; dims: number[] };

/** A structural variant of the serving graph (mirrors serving-graph.ts's ServingVariant). */
export interface Variant {
  nonlinearity: AdapterNonlinearity;
  usesPooler: boolean;
}

export const variantKey = (v: Variant): string => `${v.nonlinearity}/${v.usesPooler ? 'pooler' : 'cls'}`;

export interface Engine {
  /** One run of the serving graph: logits [B, L] row-major. */
  run(feeds: Record<string, FeedTensor>): Promise<{ data: Float32Array; dims: number[] }>;
}

/** Creates one engine per (base, variant), once; `close` releases them all. */
export interface EngineProvider {
  engine(base: ServingBase, variant: Variant): Promise<Engine>;
  close(): Promise<void>;
}
