import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bf16BitsToFloat32,
  decodeBf16,
  decodeF16,
  encodeBf16,
  encodeF16,
  f16BitsToFloat32,
  float32ToBf16Bits,
  float32ToF16Bits,
} from '../../../trainer/model-files/float16.ts';

test('F16 bits decode to the IEEE values', () => {
  assert.equal(f16BitsToFloat32(0x3c00), 1);
  assert.equal(f16BitsToFloat32(0xc000), -2);
  assert.equal(f16BitsToFloat32(0x7bff), 65504);
  assert.equal(f16BitsToFloat32(0x0001), 2 ** -24); // smallest subnormal
  assert.equal(f16BitsToFloat32(0x03ff), 1023 * 2 ** -24); // largest subnormal
  assert.equal(f16BitsToFloat32(0x0400), 2 ** -14); // smallest normal
  assert.equal(f16BitsToFloat32(0x7c00), Infinity);
  assert.equal(f16BitsToFloat32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16BitsToFloat32(0x7e00)));
  assert.ok(Object.is(f16BitsToFloat32(0x8000), -0));
});

test('BF16 bits decode to the IEEE values', () => {
  assert.equal(bf16BitsToFloat32(0x3f80), 1);
  assert.equal(bf16BitsToFloat32(0xc000), -2);
  assert.equal(bf16BitsToFloat32(0x7f80), Infinity);
  assert.ok(Number.isNaN(bf16BitsToFloat32(0x7fc0)));
});

test('float32 -> F16 rounds to nearest even (vectors checked against numpy)', () => {
  const cases: [number, number][] = [
    [65504, 0x7bff],
    [65519.99, 0x7bff],
    [65520, 0x7c00],
    [1e9, 0x7c00],
    [-1e9, 0xfc00],
    [2 ** -25, 0x0000],
    [2 ** -25 * (1 + 2 ** -20), 0x0001],
    [1e-8, 0x0000],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [0.1, 0x2e66],
    [-0, 0x8000],
    [-2, 0xc000],
    [2 ** -14, 0x0400],
    [2 ** -14 - 2 ** -25, 0x0400],
    [6.1e-5, 0x03ff],
  ];
  for (const [x, bits] of cases) assert.equal(float32ToF16Bits(x), bits, `${x}`);
  assert.equal(float32ToF16Bits(NaN) & 0x7c00, 0x7c00);
  assert.notEqual(float32ToF16Bits(NaN) & 0x3ff, 0);
});

test('float32 -> BF16 rounds to nearest even (vectors checked against torch)', () => {
  const cases: [number, number][] = [
    [1 + 2 ** -8, 0x3f80],
    [1 + 3 * 2 ** -8, 0x3f82],
    // biome-ignore lint/suspicious/noApproximativeNumericConstant: the value under test, not an approximation of pi
    [3.14159, 0x4049],
    [3.4e38, 0x7f80],
    [-0, 0x8000],
    [1e-40, 0x0001],
  ];
  for (const [x, bits] of cases) assert.equal(float32ToBf16Bits(x), bits, `${x}`);
  assert.ok(Number.isNaN(bf16BitsToFloat32(float32ToBf16Bits(NaN))));
});

test('every non-NaN F16 and BF16 pattern survives decode -> encode', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const f16 = encodeF16(decodeF16(all, new Float32Array(65536)), new Uint16Array(65536));
  const bf16 = encodeBf16(decodeBf16(all, new Float32Array(65536)), new Uint16Array(65536));
  for (let h = 0; h < 65536; h++) {
    const f16Nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    const bf16Nan = (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
    if (!f16Nan) assert.equal(f16[h], h);
    if (!bf16Nan) assert.equal(bf16[h], h);
  }
});
