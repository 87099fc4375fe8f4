/**
 * Batching: which rows form each batch (in file order, shuffled, or length-bucketed) and the padded
 * tensors one batch becomes (dynamic padding: each batch padded to its own longest row).
 */
import type { TokenizedRow } from '../../shared/training-data/rows.ts';
import type { TokenBatch } from '../sessions/model-sessions.ts';

/** Anything with a seeded in-place shuffle (trainer/util/random.ts's Rng fits). */
export interface ShuffleRng {
  shuffle<T>(a: T[]): T[];
}

/**
 * Length-bucketed batch order: shuffle, cut into chunks of `chunkBatches` batches, sort each chunk by
 * length, batch it, then shuffle the batches. Rows in a batch have similar lengths, so dynamic padding
 * pads little, while the epoch order stays random.
 */
export function bucketedBatches(lengths: ArrayLike<number>, batchSize: number, rng: ShuffleRng, chunkBatches = 50): number[][] {
  const order = rng.shuffle(Array.from({ length: lengths.length }, (_, i) => i));
  const batches: number[][] = [];
  const chunk = batchSize * chunkBatches;
  for (let start = 0; start < order.length; start += chunk) {
    const part = order.slice(start, start + chunk).sort((a, b) => lengths[a] - lengths[b]);
    for (let i = 0; i < part.length; i += batchSize) batches.push(part.slice(i, i + batchSize));
  }
  return rng.shuffle(batches);
}

/** Padded token count of a batch order: what the encoder actually computes over. */
export function paddedTokens(batches: readonly number[][], lengths: ArrayLike<number>): number {
  let total = 0;
  for (const b of batches) {
    let max = 0;
    for (const i of b) max = Math.max(max, lengths[i]);
    total += max * b.length;
  }
  return total;
}

/**
 * Row indices grouped into batches of `batchSize` (the last one may be short unless `dropLast`),
 * in file order or shuffled by `rng` — the same rng state gives the same order.
 */
export function makeBatches(
  rows: readonly unknown[],
  batchSize: number,
  o: { shuffle: boolean; rng?: ShuffleRng; dropLast?: boolean },
): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  const order = Array.from({ length: rows.length }, (_, i) => i);
  if (o.shuffle) {
    // No silent Math.random fallback: runs must be reproducible from the seed.
    if (!o.rng) throw new Error('makeBatches: shuffle needs an rng');
    o.rng.shuffle(order);
  }
  const end = o.dropLast ? order.length - (order.length % batchSize) : order.length;
  const batches: number[][] = [];
  for (let i = 0; i < end; i += batchSize) batches.push(order.slice(i, Math.min(i + batchSize, end)));
  return batches;
}

/**
 * Pads rows to the batch's longest (id 0, type 0, mask 0) into the int64 / float tensors the graph takes.
 * @param padTo pad every batch to at least this length (fixed padding, the baseline dynamic padding beats). */
export function collate(rows: readonly TokenizedRow[], labelIndex?: (row: TokenizedRow) => number, padTo = 0): TokenBatch {
  if (rows.length === 0) throw new RangeError('collate: empty batch');
  let seqLen = padTo;
  for (const r of rows) if (r.inputIds.length > seqLen) seqLen = r.inputIds.length;
  const n = rows.length * seqLen;
  const inputIds = new BigInt64Array(n);
  const tokenTypeIds = new BigInt64Array(n);
  const attentionMask = new Float32Array(n);
  for (let b = 0; b < rows.length; b++) {
    const r = rows[b];
    const o = b * seqLen;
    for (let i = 0; i < r.inputIds.length; i++) {
      inputIds[o + i] = BigInt(r.inputIds[i]);
      tokenTypeIds[o + i] = BigInt(r.tokenTypeIds[i]);
      attentionMask[o + i] = 1;
    }
  }
  const labels = labelIndex ? BigInt64Array.from(rows, (r) => BigInt(labelIndex(r))) : null;
  return { batchSize: rows.length, seqLen, inputIds, tokenTypeIds, attentionMask, labels };
}
