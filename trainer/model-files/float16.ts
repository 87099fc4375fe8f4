/**
 * IEEE half (F16) and bfloat16 (BF16) <-> float32, bit-exact.
 * Decoding copies bit patterns through Uint32Array views so NaN payloads survive
 * (writing a JS NaN into a Float32Array may canonicalise it). Encoding rounds to nearest even.
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

// All 65536 F16 values as float32 bit patterns: a lookup beats branching per element.
let f16Table: Uint32Array | null = null;

function f16Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / nan (payload kept)
  if (exp !== 0) return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0; // ±0
  // Subnormal: mant * 2^-24 is exactly representable in float32.
  scratchF32[0] = mant * 2 ** -24;
  return (sign | scratchU32[0]) >>> 0;
}

function table(): Uint32Array {
  if (f16Table === null) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16Bits(h);
  }
  return f16Table;
}

/** float32 bit pattern -> F16 bits, round to nearest even; overflow -> ±inf, NaN stays (quiet) NaN. */
function f32BitsToF16(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Result is subnormal (or rounds up into the smallest normal, which the carry handles).
    if (e < -10) return sign; // below half the smallest subnormal: rounds to ±0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rem > half || (rem === half && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // a carry may reach 0x7c00 = inf: correct
  return sign | h;
}

/** float32 bit pattern -> BF16 bits, round to nearest even; NaN stays (quiet) NaN. */
function f32BitsToBf16(b: number): number {
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return ((b >>> 16) | 0x40) & 0xffff;
  const lsb = (b >>> 16) & 1;
  return ((b >>> 0) + 0x7fff + lsb) >>> 16; // max finite + rounding stays below 2^32
}

export function f16BitsToFloat32(h: number): number {
  scratchU32[0] = table()[h & 0xffff];
  return scratchF32[0];
}

export function bf16BitsToFloat32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

export function float32ToF16Bits(x: number): number {
  scratchF32[0] = x;
  return f32BitsToF16(scratchU32[0]);
}

export function float32ToBf16Bits(x: number): number {
  scratchF32[0] = x;
  return f32BitsToBf16(scratchU32[0]);
}

/** Decodes F16 bits into `out` (same length). */
export function decodeF16(src: Uint16Array, out: Float32Array): Float32Array {
  const t = table();
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) o[i] = t[src[i]];
  return out;
}

/** Decodes BF16 bits into `out` (same length). */
export function decodeBf16(src: Uint16Array, out: Float32Array): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) o[i] = src[i] << 16;
  return out;
}

export function encodeF16(src: Float32Array, out: Uint16Array): Uint16Array {
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < s.length; i++) out[i] = f32BitsToF16(s[i]);
  return out;
}

export function encodeBf16(src: Float32Array, out: Uint16Array): Uint16Array {
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < s.length; i++) out[i] = f32BitsToBf16(s[i]);
  return out;
}
