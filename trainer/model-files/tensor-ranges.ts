/**
 * Each byte of a model file's data belongs to one tensor. Ranges that overlap are decoded once per tensor:
 * a 16 MB file naming the same bytes again and again decodes to gigabytes. The reference safetensors
 * writer never makes them, so the readers refuse them. (No Node APIs: the browser runtime uses it too.)
 */

export interface ByteRange {
  name: string;
  begin: number;
  end: number;
}

/** The first pair of ranges that share a byte, as a message; null when none do. Empty ranges hold no byte. */
export function firstOverlap(ranges: readonly ByteRange[], what = 'tensors'): string | null {
  const sorted = ranges.filter((r) => r.end > r.begin).sort((a, b) => a.begin - b.begin);
  let last: ByteRange | null = null;
  for (const r of sorted) {
    if (last && r.begin < last.end)
      return `${what} ${JSON.stringify(last.name)} [${last.begin}, ${last.end}) and ${JSON.stringify(r.name)} [${r.begin}, ${r.end}) overlap (no byte of the data may belong to two)`;
    if (!last || r.end > last.end) last = r;
  }
  return null;
}
