/**
 * A base model's parameter count for the job budget, from the shapes in its safetensors header: only
 * the header is read (the stream is dropped after it), and an F16 base counts as many parameters as an
 * F32 one. A header that cannot be read falls back to weights bytes / 2, the most a file of float
 * tensors (2 bytes or more each, all the trainer reads) can hold: an estimate that never undercounts.
 */
import type { ObjectBody } from '../../shared/object-store.ts';

/** A header larger than this is not read for the budget (real ones are kilobytes to a few MB). */
export const MAX_BUDGET_HEADER_BYTES = 16 * 1024 * 1024;

/** The parameters of a safetensors file's tensors, or null when its header cannot be read. */
export async function parametersFromHeader(body: ObjectBody, maxHeaderBytes = MAX_BUDGET_HEADER_BYTES): Promise<number | null> {
  const header = await readHeader(body, maxHeaderBytes);
  if (!header) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(header.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  let total = 0;
  for (const [name, entry] of Object.entries(parsed)) {
    if (name === '__metadata__') continue;
    const shape = (entry as { shape?: unknown } | null)?.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return null;
    total += (shape as number[]).reduce((p, d) => p * d, 1);
  }
  return Number.isSafeInteger(total) ? total : null;
}

/** The JSON header's bytes (after the 8-byte length), or null; the rest of the file is never read. */
async function readHeader(body: ObjectBody, maxHeaderBytes: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let have = 0;
  let need = 8;
  try {
    for await (const chunk of body.stream) {
      chunks.push(chunk as Buffer);
      have += (chunk as Buffer).length;
      if (need === 8 && have >= 8) {
        const length = Buffer.concat(chunks).readBigUInt64LE(0);
        if (length > BigInt(maxHeaderBytes) || length > BigInt(body.size - 8)) return null;
        need = 8 + Number(length);
      }
      if (need > 8 && have >= need) return Buffer.concat(chunks).subarray(8, need);
    }
    return null;
  } finally {
    body.stream.destroy();
  }
}
