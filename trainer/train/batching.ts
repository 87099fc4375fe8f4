/**
 * Length-bucketed batch order: shuffle, cut into chunks of `chunkBatches` batches, sort each chunk by
 * length, batch it, then shuffle the batches. Rows in a batch have similar lengths, so dynamic padding
 * pads little, while the epoch order stays random.
 */
export interface ShuffleRng {
  shuffle<T>(a: T[]): T[];
}

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
