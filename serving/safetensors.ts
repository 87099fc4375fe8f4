/**
 * A safetensors reader over bytes already in memory, with no Node APIs (the browser runtime reads
 * adapters with it too): float32 tensors are views into the bytes when aligned, F16/BF16/F64 are converted.
 * trainer/model-files/safetensors.ts is the file-backed reader the trainer uses.
 */
import { decodeBf16, decodeF16 } from '../trainer/model-files/float16.ts';
import { firstOverlap } from '../trainer/model-files/tensor-ranges.ts';

export interface TensorView {
  shape: number[];
  data: Float32Array;
}

const SIZES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

/** Every tensor of a safetensors file as float32; `what` names the file in messages. */
export function readTensors(bytes: Uint8Array, what: string): Map<string, TensorView> {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${what}: ${msg}`);
  };
  if (bytes.byteLength < 8) fail('not a safetensors file (too short)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen < 2 || 8 + headerLen > bytes.byteLength) fail(`not a safetensors file (header length ${headerLen})`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('header is not a JSON object');
  const start = 8 + headerLen;
  const entries = Object.entries(header as Record<string, unknown>).filter(([name]) => name !== '__metadata__');
  // Each byte belongs to one tensor: overlapping F16 ranges would each be converted (16 MB -> 2.1 GB).
  const ranges = entries
    .map(([name, e]) => {
      const o = (e as { data_offsets?: unknown } | null)?.data_offsets;
      return Array.isArray(o) && o.length === 2 && o.every(Number.isSafeInteger)
        ? { name, begin: o[0] as number, end: o[1] as number }
        : null;
    })
    .filter((r) => r !== null);
  const overlap = firstOverlap(ranges);
  if (overlap) fail(overlap);
  const out = new Map<string, TensorView>();
  for (const [name, entry] of entries) {
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const size = typeof e.dtype === 'string' ? SIZES[e.dtype] : undefined;
    if (size === undefined) return fail(`tensor "${name}": dtype ${JSON.stringify(e.dtype)} is not F32, F16, BF16 or F64`);
    const shape = e.shape;
    const offsets = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) return fail(`tensor "${name}": bad shape`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isInteger(d) && d >= 0))
      return fail(`tensor "${name}": bad data_offsets`);
    const [begin, end] = offsets as [number, number];
    const n = (shape as number[]).reduce((p, d) => p * d, 1);
    if (end - begin !== n * size || start + end > bytes.byteLength)
      return fail(`tensor "${name}": data_offsets do not fit its shape or the file`);
    const at = bytes.byteOffset + start + begin;
    let data: Float32Array;
    if (e.dtype === 'F32') {
      data = at % 4 === 0 ? new Float32Array(bytes.buffer, at, n) : new Float32Array(bytes.slice(start + begin, start + end).buffer);
    } else if (e.dtype === 'F64') {
      const view = new DataView(bytes.buffer, at, n * 8);
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getFloat64(i * 8, true);
    } else {
      const halves = new Uint16Array(bytes.slice(start + begin, start + end).buffer);
      data = e.dtype === 'F16' ? decodeF16(halves, new Float32Array(n)) : decodeBf16(halves, new Float32Array(n));
    }
    out.set(name, { shape: shape as number[], data });
  }
  return out;
}
