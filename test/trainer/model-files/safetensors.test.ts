/** safetensors files on disk: one read into one Buffer, atomic writes, and file errors with the path named (the format itself: safetensors-format.test.ts). */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  ModelFileError,
  readSafetensors,
  toFloat32,
  writeSafetensors,
  writeSafetensorsRaw,
} from '../../../trainer/model-files/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'safetensors-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rejects = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (e: unknown) => (e instanceof ModelFileError && message.test(e.message) ? true : assert.fail(String(e))));

test('write -> read round trip keeps names, shapes, values and metadata; F32 tensors are views into the one file buffer', () => {
  const path = join(dir, 'rt.safetensors');
  const a = new Float32Array([1, -2.5, 3e-8, 65504, -0, Infinity]);
  const b = new Float32Array([0.1, 0.2, 0.3]);
  writeSafetensors(
    path,
    new Map([
      ['z.weight', { shape: [2, 3], data: a }],
      ['a.bias', { shape: [3], data: b }],
    ]),
    { format: 'pt' },
  );
  const f = readSafetensors(path);
  assert.equal(f.path, path);
  assert.deepEqual([...f.tensors.keys()], ['a.bias', 'z.weight']);
  assert.deepEqual(f.metadata, { format: 'pt' });
  for (const [name, t] of f.tensors) {
    const x = toFloat32(t, name);
    assert.deepEqual(x, name === 'a.bias' ? b : a);
    assert.equal(x.buffer, f.buffer.buffer);
  }
  const h = join(dir, 'f16.safetensors');
  writeSafetensorsRaw(h, { h: { dtype: 'F16', shape: [2], bytes: new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer) } });
  assert.deepEqual([...toFloat32(readSafetensors(h).tensors.get('h')!, 'h')], [1, -2]);
});

test('writes are atomic: no temporary file is left behind, also when the write is refused', () => {
  const sub = mkdtempSync(join(dir, 'atomic-'));
  writeSafetensors(join(sub, 'a.safetensors'), { w: { shape: [1], data: new Float32Array([1]) } });
  writeSafetensors(join(sub, 'a.safetensors'), { w: { shape: [1], data: new Float32Array([2]) } }); // overwrite
  assert.deepEqual(readdirSync(sub), ['a.safetensors']);
  assert.deepEqual([...toFloat32(readSafetensors(join(sub, 'a.safetensors')).tensors.get('w')!, 'w')], [2]);
  rejects(
    () => writeSafetensors(join(sub, 'b.safetensors'), { w: { shape: [2], data: new Float32Array([1]) } }),
    /tensor "w": shape \[2\] holds 2 values but the data has 1/,
  );
  rejects(
    () => writeSafetensorsRaw(join(sub, 'c.safetensors'), { __metadata__: { dtype: 'F32', shape: [0], bytes: new Uint8Array(0) } }),
    /c\.safetensors: "__metadata__" is reserved/,
  );
  assert.deepEqual(readdirSync(sub), ['a.safetensors']);
});

test('missing, odd and malformed files are refused with the path named', () => {
  rejects(() => readSafetensors(join(dir, 'nope.safetensors')), /nope\.safetensors: file not found/);
  rejects(() => readSafetensors(dir), /not a regular file/);
  const cut = join(dir, 'model.safetensors');
  writeFileSync(cut, Buffer.alloc(5));
  rejects(() => readSafetensors(cut), /model\.safetensors: not a safetensors file \(5 bytes/);
});
