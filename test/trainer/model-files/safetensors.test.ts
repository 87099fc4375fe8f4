import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { RawTensor } from '../../../trainer/model-files/safetensors.ts';
import {
  ModelFileError,
  parseSafetensors,
  readSafetensors,
  toFloat32,
  writeSafetensors,
  writeSafetensorsRaw,
} from '../../../trainer/model-files/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A safetensors file from a header object and a data section, for malformed-file tests. */
function rawFile(name: string, header: unknown, data: Uint8Array, headerPad = ''): string {
  const json = Buffer.from(JSON.stringify(header) + headerPad);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([len, json, data]));
  return path;
}

const rejects = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (e: unknown) => (e instanceof ModelFileError && message.test(e.message) ? true : assert.fail(String(e))));

test('write -> read round trip keeps names, shapes, values and metadata', () => {
  const path = join(dir, 'rt.safetensors');
  const a = new Float32Array([1, -2.5, 3e-8, 65504, -0, Infinity]);
  const b = new Float32Array([0.1, 0.2, 0.3]);
  writeSafetensors(
    path,
    { 'z.weight': { shape: [2, 3], data: a }, 'a.bias': { shape: [3], data: b }, empty: { shape: [0, 4], data: new Float32Array(0) } },
    { format: 'pt' },
  );
  const f = readSafetensors(path);
  assert.deepEqual([...f.tensors.keys()], ['a.bias', 'empty', 'z.weight']); // sorted
  assert.deepEqual(f.metadata, { format: 'pt' });
  assert.deepEqual(f.tensors.get('z.weight')!.shape, [2, 3]);
  assert.deepEqual(toFloat32(f.tensors.get('z.weight')!, 'z.weight'), a);
  assert.deepEqual(toFloat32(f.tensors.get('a.bias')!, 'a.bias'), b);
  assert.equal(toFloat32(f.tensors.get('empty')!, 'empty').length, 0);
});

test('a Map works as input, and integer-like names keep sorted order', () => {
  const path = join(dir, 'map.safetensors');
  writeSafetensors(
    path,
    new Map([
      ['10', { shape: [1], data: new Float32Array([10]) }],
      ['2', { shape: [1], data: new Float32Array([2]) }],
      ['b', { shape: [1], data: new Float32Array([3]) }],
    ]),
  );
  const f = readSafetensors(path);
  assert.deepEqual([...f.tensors.keys()], ['10', '2', 'b']);
  assert.deepEqual(f.metadata, {});
});

test('the data section starts 8-byte aligned (header padded with spaces) for any name length', () => {
  for (let n = 1; n <= 9; n++) {
    const path = join(dir, `align${n}.safetensors`);
    writeSafetensors(path, { ['x'.repeat(n)]: { shape: [1], data: new Float32Array([n]) } });
    const bytes = readFileSync(path);
    const len = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + len) % 8, 0);
    assert.match(bytes.toString('latin1', 8, 8 + len), /^\{.*\} *$/);
  }
});

test('F32 tensors are zero-copy views into the one file buffer', () => {
  const path = join(dir, 'zc.safetensors');
  writeSafetensors(path, { w: { shape: [4], data: new Float32Array([1, 2, 3, 4]) }, v: { shape: [1], data: new Float32Array([5]) } });
  const f = readSafetensors(path);
  for (const [name, t] of f.tensors) {
    const x = toFloat32(t, name);
    assert.equal(x.buffer, f.buffer.buffer);
    assert.equal(t.bytes.buffer, f.buffer.buffer);
  }
});

test('a misaligned F32 tensor is copied, with the right values', () => {
  // Header of odd length (no padding): data starts at an odd offset.
  const data = Buffer.alloc(8);
  data.writeFloatLE(1.5, 0);
  data.writeFloatLE(-7, 4);
  let pad = '';
  let path = '';
  for (; pad.length < 8; pad += ' ') {
    path = rawFile('mis.safetensors', { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data, pad);
    if ((8n + readFileSync(path).readBigUInt64LE(0)) % 4n !== 0n) break;
  }
  const f = readSafetensors(path);
  const x = toFloat32(f.tensors.get('t')!, 't');
  assert.notEqual(x.buffer, f.buffer.buffer);
  assert.deepEqual([...x], [1.5, -7]);
});

test('F16, BF16 and F64 convert to float32; integer dtypes are refused by name', () => {
  const path = join(dir, 'mixed.safetensors');
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]);
  const bf16 = new Uint16Array([0x3f80, 0xc000]);
  const f64 = new Float64Array([0.5, -1e300, 1 / 3]);
  const i64 = new BigInt64Array([0n, 1n, 2n]);
  const tensors: Record<string, RawTensor> = {
    h: { dtype: 'F16', shape: [4], bytes: new Uint8Array(f16.buffer) },
    b: { dtype: 'BF16', shape: [2], bytes: new Uint8Array(bf16.buffer) },
    d: { dtype: 'F64', shape: [3], bytes: new Uint8Array(f64.buffer) },
    'embeddings.position_ids': { dtype: 'I64', shape: [1, 3], bytes: new Uint8Array(i64.buffer) },
  };
  writeSafetensorsRaw(path, tensors);
  const f = readSafetensors(path);
  assert.deepEqual([...toFloat32(f.tensors.get('h')!, 'h')], [1, -2, 65504, 2 ** -24]);
  assert.deepEqual([...toFloat32(f.tensors.get('b')!, 'b')], [1, -2]);
  assert.deepEqual([...toFloat32(f.tensors.get('d')!, 'd')], [0.5, -Infinity, Math.fround(1 / 3)]);
  rejects(
    () => toFloat32(f.tensors.get('embeddings.position_ids')!, 'embeddings.position_ids'),
    /tensor "embeddings\.position_ids" has dtype I64/,
  );
});

test('writes are atomic: no temporary file is left behind', () => {
  const sub = mkdtempSync(join(dir, 'atomic-'));
  writeSafetensors(join(sub, 'a.safetensors'), { w: { shape: [1], data: new Float32Array([1]) } });
  writeSafetensors(join(sub, 'a.safetensors'), { w: { shape: [1], data: new Float32Array([2]) } }); // overwrite
  assert.deepEqual(readdirSync(sub), ['a.safetensors']);
  assert.deepEqual([...toFloat32(readSafetensors(join(sub, 'a.safetensors')).tensors.get('w')!, 'w')], [2]);
  assert.throws(
    () => writeSafetensors(join(sub, 'b.safetensors'), { w: { shape: [2], data: new Float32Array([1]) } }),
    /tensor "w": shape \[2\] holds 2 values but the data has 1/,
  );
  assert.deepEqual(readdirSync(sub), ['a.safetensors']);
});

test('truncated and foreign files are refused with the file name', () => {
  const good = join(dir, 'good.safetensors');
  writeSafetensors(good, { 'encoder.layer.0.attention.self.query.weight': { shape: [4, 4], data: new Float32Array(16) } });
  const bytes = readFileSync(good);
  const cut = join(dir, 'model.safetensors');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 4));
  rejects(
    () => readSafetensors(cut),
    /model\.safetensors: tensor "encoder\.layer\.0\.attention\.self\.query\.weight" has data_offsets \[0, 64\] beyond the end of the file \(\d+ bytes/,
  );

  writeFileSync(cut, bytes.subarray(0, 5));
  rejects(() => readSafetensors(cut), /model\.safetensors: not a safetensors file \(5 bytes/);

  const big = Buffer.alloc(1000);
  big.writeBigUInt64LE(123456789n);
  writeFileSync(cut, big);
  rejects(() => readSafetensors(cut), /model\.safetensors: not a safetensors file \(header length 123456789 exceeds file size 1000\)/);

  rejects(() => readSafetensors(join(dir, 'nope.safetensors')), /nope\.safetensors: file not found/);
  rejects(() => readSafetensors(dir), /not a regular file/);
});

test('garbage headers are refused precisely', () => {
  const d = new Uint8Array(8);
  rejects(
    () => readSafetensors(rawFile('g1.safetensors', null, d, '')),
    /g1\.safetensors: not a safetensors file \(the header does not start/,
  );
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(6n);
  writeFileSync(join(dir, 'g2.safetensors'), Buffer.concat([len, Buffer.from('{"a":,'), d]));
  rejects(() => readSafetensors(join(dir, 'g2.safetensors')), /g2\.safetensors: header is not valid JSON/);
  rejects(() => readSafetensors(rawFile('g3.safetensors', { t: { shape: [2], data_offsets: [0, 8] } }, d)), /tensor "t" has no "dtype"/);
  rejects(
    () => readSafetensors(rawFile('g4.safetensors', { t: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } }, d)),
    /tensor "t" has unknown dtype "Q7"/,
  );
  rejects(
    () => readSafetensors(rawFile('g5.safetensors', { t: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, d)),
    /tensor "t" has an invalid "shape"/,
  );
  rejects(
    () => readSafetensors(rawFile('g6.safetensors', { t: { dtype: 'F32', shape: [2] } }, d)),
    /tensor "t" has invalid "data_offsets"/,
  );
  rejects(
    () => readSafetensors(rawFile('g7.safetensors', { t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, d)),
    /tensor "t" has 8 bytes but dtype F32 with shape \[3\] needs 12/,
  );
  rejects(() => readSafetensors(rawFile('g8.safetensors', { __metadata__: { a: 1 } }, d)), /"__metadata__" value "a" is not a string/);
  rejects(() => parseSafetensors(Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0xff]), 'mem'), /mem: header is not valid UTF-8/);
});

test('overlapping tensor ranges are refused before anything is converted (the review recipe: F16 tensors all over the same bytes)', () => {
  // 4 MB of F16 data named by 64 tensors: 64 x 8 MB = 512 MB of float32 from a 4 MB file, were each converted.
  const numel = 2 * 1024 * 1024;
  const header: Record<string, unknown> = {};
  for (let i = 0; i < 64; i++) header[`w${i}`] = { dtype: 'F16', shape: [numel], data_offsets: [0, numel * 2] };
  const path = rawFile('overlap.safetensors', header, new Uint8Array(numel * 2));
  rejects(() => readSafetensors(path), /overlap\.safetensors: tensors "w\d+" \[0, 4194304\) and "w\d+" \[0, 4194304\) overlap/);
  // A partial overlap too; touching ranges are fine.
  const partial = rawFile(
    'partial.safetensors',
    { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [4], data_offsets: [12, 28] } },
    new Uint8Array(28),
  );
  rejects(() => readSafetensors(partial), /tensors "a" \[0, 16\) and "b" \[12, 28\) overlap/);
  const touching = rawFile(
    'touching.safetensors',
    { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [4], data_offsets: [16, 32] } },
    new Uint8Array(32),
  );
  assert.equal(readSafetensors(touching).tensors.size, 2);
});
