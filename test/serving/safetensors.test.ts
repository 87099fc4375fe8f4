/** The in-memory safetensors reader of the runtimes (Node and browser): overlapping ranges are refused before any conversion. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readTensors, SafetensorsError } from '../../serving/safetensors.ts';

function file(header: Record<string, unknown>, dataBytes: number): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return new Uint8Array(Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
}

test('the review recipe: F16 tensors all over the same bytes are refused, not converted one by one', () => {
  // 4 MB of F16 named by 64 tensors would convert to 512 MB of float32.
  const numel = 2 * 1024 * 1024;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  for (let i = 0; i < 64; i++) header[`w${i}`] = { dtype: 'F16', shape: [numel], data_offsets: [0, numel * 2] };
  assert.throws(
    () => readTensors(file(header, numel * 2), 'adapter.safetensors'),
    (e: unknown) =>
      e instanceof SafetensorsError &&
      /^adapter\.safetensors: tensors "w\d+" \[0, 4194304\) and "w\d+" \[0, 4194304\) overlap/.test(e.message),
  );
});

test('ranges side by side read as before', () => {
  const out = readTensors(
    file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F16', shape: [2], data_offsets: [8, 12] } }, 12),
    'ok.safetensors',
  );
  assert.deepEqual([...out.keys()], ['a', 'b']);
  assert.deepEqual([...out.get('b')!.data], [0, 0]);
});
