/**
 * The one safetensors parser and writer (bytes in memory, no Node APIs), as the trainer and both runtimes
 * use it: round trips, dtypes, alignment, and every malformed header refused with a precise message.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  encodeSafetensors,
  f32ToRaw,
  ModelFileError,
  parseSafetensors,
  type RawTensor,
  readFloat32Tensors,
  toFloat32,
} from '../../../trainer/model-files/safetensors-format.ts';

/** A file from a header object and a data section, for malformed-file tests. */
function rawFile(header: unknown, data: Uint8Array, headerPad = ''): Uint8Array {
  const json = Buffer.from(JSON.stringify(header) + headerPad);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return new Uint8Array(Buffer.concat([len, json, data]));
}

const encode = (tensors: Record<string, RawTensor> | Map<string, RawTensor>, metadata?: Record<string, string>) =>
  new Uint8Array(Buffer.concat(encodeSafetensors(tensors, metadata, 'mem')));

const rejects = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (e: unknown) => (e instanceof ModelFileError && message.test(e.message) ? true : assert.fail(String(e))));

test('encode -> parse keeps names, shapes, values and metadata; names are sorted, integer-like ones too', () => {
  const a = new Float32Array([1, -2.5, 3e-8, 65504, -0, Infinity]);
  const bytes = encode(
    f32ToRaw({
      'z.weight': { shape: [2, 3], data: a },
      '10': { shape: [1], data: new Float32Array([10]) },
      '2': { shape: [1], data: new Float32Array([2]) },
      empty: { shape: [0, 4], data: new Float32Array(0) },
    }),
    { format: 'pt' },
  );
  const f = parseSafetensors(bytes, 'mem');
  assert.deepEqual([...f.tensors.keys()], ['10', '2', 'empty', 'z.weight']);
  assert.deepEqual(f.metadata, { format: 'pt' });
  assert.deepEqual(f.tensors.get('z.weight')!.shape, [2, 3]);
  assert.deepEqual(toFloat32(f.tensors.get('z.weight')!, 'z.weight'), a);
  assert.equal(toFloat32(f.tensors.get('empty')!, 'empty').length, 0);
  assert.deepEqual(parseSafetensors(encode(new Map()), 'mem').metadata, {});
});

test('the data section starts 8-byte aligned (header padded with spaces) for any name length', () => {
  for (let n = 1; n <= 9; n++) {
    const bytes = Buffer.from(encode(f32ToRaw({ ['x'.repeat(n)]: { shape: [1], data: new Float32Array([n]) } })));
    const len = Number(bytes.readBigUInt64LE(0));
    assert.equal((8 + len) % 8, 0);
    assert.match(bytes.toString('latin1', 8, 8 + len), /^\{.*\} *$/);
  }
});

test('F32 tensors are zero-copy views into the given bytes; a misaligned F32 tensor is copied with the right values', () => {
  const bytes = encode(f32ToRaw({ w: { shape: [4], data: new Float32Array([1, 2, 3, 4]) } }));
  const f = parseSafetensors(bytes, 'mem');
  assert.equal(toFloat32(f.tensors.get('w')!, 'w').buffer, bytes.buffer);

  const data = Buffer.alloc(8);
  data.writeFloatLE(1.5, 0);
  data.writeFloatLE(-7, 4);
  let pad = '';
  let mis: Uint8Array = new Uint8Array(0);
  for (; pad.length < 8; pad += ' ') {
    mis = rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data, pad);
    if ((8n + Buffer.from(mis).readBigUInt64LE(0)) % 4n !== 0n) break;
  }
  const x = toFloat32(parseSafetensors(mis, 'mis').tensors.get('t')!, 't');
  assert.notEqual(x.buffer, mis.buffer);
  assert.deepEqual([...x], [1.5, -7]);
});

test('F16, BF16 and F64 convert to float32; integer dtypes parse but are refused as float32 by name', () => {
  const tensors: Record<string, RawTensor> = {
    h: { dtype: 'F16', shape: [4], bytes: new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]).buffer) },
    b: { dtype: 'BF16', shape: [2], bytes: new Uint8Array(new Uint16Array([0x3f80, 0xc000]).buffer) },
    d: { dtype: 'F64', shape: [3], bytes: new Uint8Array(new Float64Array([0.5, -1e300, 1 / 3]).buffer) },
    'embeddings.position_ids': { dtype: 'I64', shape: [1, 3], bytes: new Uint8Array(new BigInt64Array([0n, 1n, 2n]).buffer) },
  };
  const bytes = encode(tensors);
  const f = parseSafetensors(bytes, 'mixed');
  // Bigger dtypes first, so every tensor stays aligned to its item size.
  assert.deepEqual([...f.tensors.keys()], ['d', 'embeddings.position_ids', 'b', 'h']);
  assert.deepEqual([...toFloat32(f.tensors.get('h')!, 'h')], [1, -2, 65504, 2 ** -24]);
  assert.deepEqual([...toFloat32(f.tensors.get('b')!, 'b')], [1, -2]);
  assert.deepEqual([...toFloat32(f.tensors.get('d')!, 'd')], [0.5, -Infinity, Math.fround(1 / 3)]);
  rejects(
    () => toFloat32(f.tensors.get('embeddings.position_ids')!, 'embeddings.position_ids'),
    /tensor "embeddings\.position_ids" has dtype I64/,
  );
  // The runtimes' read checks every dtype first and names the file.
  rejects(
    () => readFloat32Tensors(bytes, 'adapter.safetensors'),
    /^adapter\.safetensors: tensor "embeddings\.position_ids" has dtype I64; only F32, F16, BF16, F64/,
  );
  delete tensors['embeddings.position_ids'];
  const all = readFloat32Tensors(encode(tensors), 'ok');
  assert.deepEqual([...all.keys()], ['d', 'b', 'h']);
  assert.deepEqual([...all.get('h')!.data], [1, -2, 65504, 2 ** -24]);
  assert.deepEqual(all.get('d')!.shape, [3]);
});

test('the writer refuses what the format cannot hold', () => {
  rejects(
    () => encodeSafetensors(f32ToRaw({ __metadata__: { shape: [1], data: new Float32Array(1) } }), undefined, 'x.safetensors'),
    /^x\.safetensors: "__metadata__" is reserved/,
  );
  rejects(
    () => encodeSafetensors({ t: { dtype: 'Q7', shape: [1], bytes: new Uint8Array(1) } }, undefined, 'x.safetensors'),
    /^x\.safetensors: tensor "t" has unknown dtype "Q7"/,
  );
  rejects(() => f32ToRaw({ w: { shape: [2], data: new Float32Array([1]) } }), /tensor "w": shape \[2\] holds 2 values but the data has 1/);
  rejects(() => f32ToRaw({ w: { shape: [-1], data: new Float32Array([1]) } }), /tensor "w": invalid shape \[-1\]/);
  rejects(
    () => encodeSafetensors(new Map(), { n: 1 as unknown as string }, 'x.safetensors'),
    /^x\.safetensors: metadata "n" must be a string/,
  );
});

test('truncated and foreign bytes are refused with the file named', () => {
  const good = encode(f32ToRaw({ 'encoder.layer.0.attention.self.query.weight': { shape: [4, 4], data: new Float32Array(16) } }));
  rejects(
    () => parseSafetensors(good.subarray(0, good.length - 4), 'model.safetensors'),
    /^model\.safetensors: tensor "encoder\.layer\.0\.attention\.self\.query\.weight" has data_offsets \[0, 64\] beyond the end of the file \(\d+ bytes/,
  );
  rejects(() => parseSafetensors(good.subarray(0, 5), 'model.safetensors'), /^model\.safetensors: not a safetensors file \(5 bytes/);
  const big = Buffer.alloc(1000);
  big.writeBigUInt64LE(123456789n);
  rejects(() => parseSafetensors(big, 'm'), /^m: not a safetensors file \(header length 123456789 exceeds file size 1000\)/);
  const huge = Buffer.alloc(8 + 100_000_001, 0x20);
  huge.writeBigUInt64LE(100_000_001n);
  rejects(() => parseSafetensors(huge, 'm'), /^m: not a safetensors file \(header length 100000001 exceeds the 100000000-byte limit\)/);
});

test('garbage headers are refused precisely', () => {
  const d = new Uint8Array(8);
  rejects(() => parseSafetensors(rawFile(null, d), 'g1'), /^g1: not a safetensors file \(the header does not start/);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(6n);
  rejects(() => parseSafetensors(Buffer.concat([len, Buffer.from('{"a":,'), d]), 'g2'), /^g2: header is not valid JSON/);
  rejects(() => parseSafetensors(rawFile([1], d), 'g2b'), /^g2b: not a safetensors file \(the header does not start/);
  rejects(() => parseSafetensors(rawFile({ t: [1] }, d), 'g2c'), /^g2c: tensor "t": header entry is not an object/);
  rejects(() => parseSafetensors(rawFile({ t: { shape: [2], data_offsets: [0, 8] } }, d), 'g3'), /tensor "t" has no "dtype"/);
  rejects(
    () => parseSafetensors(rawFile({ t: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } }, d), 'g4'),
    /tensor "t" has unknown dtype "Q7"/,
  );
  rejects(
    () => parseSafetensors(rawFile({ t: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, d), 'g5'),
    /tensor "t" has an invalid "shape"/,
  );
  rejects(() => parseSafetensors(rawFile({ t: { dtype: 'F32', shape: [2] } }, d), 'g6'), /tensor "t" has invalid "data_offsets"/);
  rejects(
    () => parseSafetensors(rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, d), 'g6b'),
    /tensor "t" has invalid "data_offsets" \[8,0\]/,
  );
  rejects(
    () => parseSafetensors(rawFile({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, d), 'g7'),
    /tensor "t" has 8 bytes but dtype F32 with shape \[3\] needs 12/,
  );
  rejects(() => parseSafetensors(rawFile({ __metadata__: { a: 1 } }, d), 'g8'), /"__metadata__" value "a" is not a string/);
  rejects(() => parseSafetensors(rawFile({ __metadata__: [] }, d), 'g9'), /"__metadata__" is not an object/);
  rejects(() => parseSafetensors(Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0xff]), 'mem'), /^mem: header is not valid UTF-8/);
});

test('overlapping tensor ranges are refused before anything is converted (the review recipe: F16 tensors all over the same bytes)', () => {
  // 4 MB of F16 data named by 64 tensors: 64 x 8 MB = 512 MB of float32 from a 4 MB file, were each converted.
  const numel = 2 * 1024 * 1024;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  for (let i = 0; i < 64; i++) header[`w${i}`] = { dtype: 'F16', shape: [numel], data_offsets: [0, numel * 2] };
  const bytes = rawFile(header, new Uint8Array(numel * 2));
  const overlap = /^adapter\.safetensors: tensors "w\d+" \[0, 4194304\) and "w\d+" \[0, 4194304\) overlap/;
  rejects(() => parseSafetensors(bytes, 'adapter.safetensors'), overlap);
  rejects(() => readFloat32Tensors(bytes, 'adapter.safetensors'), overlap);
  // A partial overlap too; touching ranges are fine.
  const partial = rawFile(
    { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [4], data_offsets: [12, 28] } },
    new Uint8Array(28),
  );
  rejects(() => parseSafetensors(partial, 'p'), /tensors "a" \[0, 16\) and "b" \[12, 28\) overlap/);
  const touching = rawFile(
    { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F16', shape: [2], data_offsets: [16, 20] } },
    new Uint8Array(20),
  );
  const out = readFloat32Tensors(touching, 'ok.safetensors');
  assert.deepEqual([...out.keys()], ['a', 'b']);
  assert.deepEqual([...out.get('b')!.data], [0, 0]);
});

test('the format module and what it imports use no Node API (the browser runtime bundles it)', () => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [, spec] of source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gms)) {
      assert.ok(spec.startsWith('.'), `${file} imports ${spec}: only the project's own browser-safe modules may be imported`);
      visit(resolve(dirname(file), spec));
    }
    assert.doesNotMatch(source, /\bBuffer\b|\bprocess\.|require\(/, `${file} uses a Node global`);
  };
  visit(join(dirname(fileURLToPath(import.meta.url)), '../../../trainer/model-files/safetensors-format.ts'));
  assert.deepEqual([...seen].map((f) => f.split('/').pop()).sort(), [
    'errors.ts',
    'float16.ts',
    'safetensors-format.ts',
    'tensor-ranges.ts',
    'vocabulary.ts',
  ]);
});
