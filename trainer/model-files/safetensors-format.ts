/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON header, then the data section. Each header entry gives dtype, shape and
 * `data_offsets` [begin, end) relative to the data section.
 *
 * The one parser and writer of the project, over bytes in memory and with no Node APIs: the trainer
 * (safetensors.ts adds reading and writing files), the Node runtime and the browser runtime all use it.
 * Parsing hands out views into the given bytes, so a float32 file costs its size in memory and no more.
 */

import { BASE_WEIGHT_DTYPES } from '../../shared/vocabulary.ts';
import { ModelFileError } from './errors.ts';
import { decodeBf16, decodeF16 } from './float16.ts';
import { firstOverlap } from './tensor-ranges.ts';

export { ModelFileError } from './errors.ts';

export interface RawTensor {
  dtype: string;
  shape: number[];
  /** Little-endian bytes; after parsing, a view into the file's bytes (no copy). */
  bytes: Uint8Array;
}

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

export interface ParsedSafetensors {
  metadata: Record<string, string>;
  /** In file order (by data offset). */
  tensors: Map<string, RawTensor>;
}

/** Byte size of each dtype the format defines. */
export const DTYPE_SIZES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
};

/** The dtypes toFloat32 converts. */
export const FLOAT_DTYPES: readonly string[] = [...BASE_WEIGHT_DTYPES, 'F64'];

// Same cap as the reference implementation: a bigger "header" means a corrupt or foreign file.
export const MAX_HEADER_BYTES = 100_000_000;
// Typed-array views reinterpret bytes in platform order; the format is little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Validates a safetensors file held in `bytes`; `what` names it in error messages (a path, or "<key> adapter.safetensors"). */
export function parseSafetensors(bytes: Uint8Array, what: string): ParsedSafetensors {
  const fail = (msg: string): never => {
    throw new ModelFileError(`${what}: ${msg}`);
  };
  const size = bytes.byteLength;
  if (size < 8) fail(`not a safetensors file (${size} bytes, too short for the 8-byte header length)`);
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLen > BigInt(size - 8)) fail(`not a safetensors file (header length ${headerLen} exceeds file size ${size})`);
  const n = Number(headerLen);
  if (n > MAX_HEADER_BYTES) fail(`not a safetensors file (header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit)`);
  if (n < 2 || bytes[8] !== 0x7b /* { */) fail(`not a safetensors file (the header does not start with "{")`);

  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) return fail('header is not a JSON object');

  const dataStart = 8 + n;
  const dataLen = size - dataStart;
  let metadata: Record<string, string> = {};
  const found: [string, RawTensor, number][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, fail);
      continue;
    }
    const tensor = `tensor ${JSON.stringify(name)}`;
    if (!isPlainObject(entry)) return fail(`${tensor}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string') return fail(`${tensor} has no "dtype"`);
    const itemSize = DTYPE_SIZES[dtype];
    if (itemSize === undefined) return fail(`${tensor} has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      return fail(`${tensor} has an invalid "shape" ${JSON.stringify(shape)} (need an array of non-negative integers)`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      return fail(`${tensor} has invalid "data_offsets" ${JSON.stringify(offsets)} (need [begin, end] with 0 <= begin <= end)`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLen) {
      return fail(
        `${tensor} has data_offsets [${begin}, ${end}] beyond the end of the file (${size} bytes, data section ${dataLen} bytes)`,
      );
    }
    const dims = shape as number[];
    const need = dims.reduce((p, d) => p * d, 1) * itemSize;
    if (end - begin !== need) {
      return fail(`${tensor} has ${end - begin} bytes but dtype ${dtype} with shape [${dims.join(', ')}] needs ${need}`);
    }
    found.push([name, { dtype, shape: dims, bytes: bytes.subarray(dataStart + begin, dataStart + end) }, begin]);
  }
  // File order, not JSON.parse order (which puts integer-like names first).
  found.sort((a, b) => a[2] - b[2]);
  // Each byte belongs to one tensor: overlapping ranges would be converted once each (a 16 MB file of F16
  // tensors all over the same bytes became 2.1 GB of float32), and the reference writer never makes them.
  const overlap = firstOverlap(found.map(([name, t, begin]) => ({ name, begin, end: begin + t.bytes.byteLength })));
  if (overlap) fail(overlap);
  return { metadata, tensors: new Map(found.map(([name, t]) => [name, t])) };
}

/**
 * Every tensor of a file as float32 (the runtimes' read: adapters and bases). All dtypes are checked
 * before any is converted, so a file with an integer tensor costs no conversion before it is refused.
 */
export function readFloat32Tensors(bytes: Uint8Array, what: string): Map<string, F32Tensor> {
  const { tensors } = parseSafetensors(bytes, what);
  for (const [name, t] of tensors) {
    if (!FLOAT_DTYPES.includes(t.dtype))
      throw new ModelFileError(
        `${what}: tensor ${JSON.stringify(name)} has dtype ${t.dtype}; only ${FLOAT_DTYPES.join(', ')} read as float32`,
      );
  }
  return new Map([...tensors].map(([name, t]) => [name, { shape: t.shape, data: toFloat32(t, name) }]));
}

/**
 * The tensor as float32. F32: a zero-copy view when its bytes are 4-aligned (a copy otherwise);
 * F16/BF16/F64: converted into a new array. Other dtypes throw.
 */
export function toFloat32(t: RawTensor, name: string): Float32Array {
  const { bytes } = t;
  const size = DTYPE_SIZES[t.dtype];
  const n = size === undefined ? 0 : bytes.byteLength / size;
  const dv = () => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (t.dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
      const out = new Float32Array(n);
      const view = dv();
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case 'F16':
      return decodeF16(uint16View(bytes), new Float32Array(n));
    case 'BF16':
      return decodeBf16(uint16View(bytes), new Float32Array(n));
    case 'F64': {
      if (LITTLE_ENDIAN && bytes.byteOffset % 8 === 0) return new Float32Array(new Float64Array(bytes.buffer, bytes.byteOffset, n));
      const out = new Float32Array(n);
      const view = dv();
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    default:
      throw new ModelFileError(`tensor ${JSON.stringify(name)} has dtype ${t.dtype}; only F32, F16, BF16 and F64 convert to float32`);
  }
}

/** float32 tensors as F32 raw tensors (views on little-endian hosts), shapes checked against the data. */
export function f32ToRaw(tensors: Record<string, F32Tensor> | ReadonlyMap<string, F32Tensor>): Map<string, RawTensor> {
  const raw = new Map<string, RawTensor>();
  for (const [name, t] of entriesOf(tensors)) {
    checkShape(name, t.shape, t.data.length);
    raw.set(name, { dtype: 'F32', shape: t.shape, bytes: float32Bytes(t.data) });
  }
  return raw;
}

/**
 * A safetensors file as byte chunks (the header, then each tensor's bytes), to be written in order.
 * Order is the reference library's: bigger dtypes first, then by name, so every tensor's data stays
 * aligned to its item size; the data section starts 8-byte aligned (header padded with spaces).
 * `what` names the file in error messages.
 */
export function encodeSafetensors(
  tensors: Record<string, RawTensor> | ReadonlyMap<string, RawTensor>,
  metadata: Record<string, string> | undefined,
  what: string,
): Uint8Array[] {
  const list = [...entriesOf(tensors)];
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new ModelFileError(`${what}: "__metadata__" is reserved and cannot name a tensor`);
    const itemSize = DTYPE_SIZES[t.dtype];
    if (itemSize === undefined)
      throw new ModelFileError(`${what}: tensor ${JSON.stringify(name)} has unknown dtype ${JSON.stringify(t.dtype)}`);
    checkShape(name, t.shape, t.bytes.byteLength / itemSize);
  }
  list.sort(([a, ta], [b, tb]) => DTYPE_SIZES[tb.dtype] - DTYPE_SIZES[ta.dtype] || (a < b ? -1 : a > b ? 1 : 0));

  // Built by hand, not JSON.stringify(object): integer-like keys would be reordered by JS.
  const parts: string[] = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new ModelFileError(`${what}: metadata ${JSON.stringify(k)} must be a string`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const [name, t] of list) {
    const end = offset + t.bytes.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const pad = (8 - (json.length % 8)) % 8;
  const head = new Uint8Array(8 + json.length + pad).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length + pad), true);
  head.set(json, 8);
  return [head, ...list.map(([, t]) => t.bytes)];
}

function parseMetadata(entry: unknown, fail: (msg: string) => never): Record<string, string> {
  if (!isPlainObject(entry)) return fail('"__metadata__" is not an object');
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') fail(`"__metadata__" value ${JSON.stringify(k)} is not a string`);
  }
  return entry as Record<string, string>;
}

function uint16View(bytes: Uint8Array): Uint16Array {
  const n = bytes.byteLength / 2;
  if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Uint16Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getUint16(i * 2, true);
  return out;
}

/** The little-endian bytes of a Float32Array: a view on little-endian hosts. */
function float32Bytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

function checkShape(name: string, shape: number[], count: number): void {
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new ModelFileError(`tensor ${JSON.stringify(name)}: invalid shape ${JSON.stringify(shape)}`);
  }
  const numel = shape.reduce((p, d) => p * d, 1);
  if (numel !== count) {
    throw new ModelFileError(`tensor ${JSON.stringify(name)}: shape [${shape.join(', ')}] holds ${numel} values but the data has ${count}`);
  }
}

function entriesOf<T>(m: Record<string, T> | ReadonlyMap<string, T>): Iterable<[string, T]> {
  return m instanceof Map ? m.entries() : Object.entries(m as Record<string, T>);
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
