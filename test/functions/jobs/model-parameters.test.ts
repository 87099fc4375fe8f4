/** A base's parameters for the budget: counted from its header's shapes, the file past the header never read. */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { parametersFromHeader } from '../../../functions/jobs/model-parameters.ts';

function body(header: unknown, dataBytes: number, claimedLength?: bigint) {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(claimedLength ?? BigInt(json.length));
  const bytes = Buffer.concat([length, json, Buffer.alloc(dataBytes)]);
  let read = 0;
  // Small chunks, counted: the reader must stop after the header.
  const chunks = Array.from({ length: Math.ceil(bytes.length / 16) }, (_, i) => bytes.subarray(i * 16, (i + 1) * 16));
  const stream = Readable.from(
    (function* () {
      for (const c of chunks) {
        read += c.length;
        yield c;
      }
    })(),
  );
  return { body: { stream, size: bytes.length, etag: '"x"' }, read: () => read, total: bytes.length };
}

test('shapes, not bytes: F16 and F32 tensors count their values; metadata is skipped; the data is not read', async () => {
  const b = body(
    {
      __metadata__: { format: 'pt' },
      a: { dtype: 'F16', shape: [1000, 10], data_offsets: [0, 20_000] },
      b: { dtype: 'F32', shape: [7], data_offsets: [20_000, 20_028] },
    },
    20_028,
  );
  assert.equal(await parametersFromHeader(b.body), 10_007);
  assert.ok(b.read() < b.total / 2, `read ${b.read()} of ${b.total} bytes`);
});

test('a header that cannot be read (too long, truncated, not JSON, a bad shape) gives null', async () => {
  assert.equal(await parametersFromHeader(body({ a: { shape: [2] } }, 0, 1n << 40n).body), null);
  assert.equal(await parametersFromHeader(body({ a: { shape: [2] } }, 0).body, 4), null, 'over the cap');
  assert.equal(await parametersFromHeader(body({ a: { shape: [-1] } }, 0).body), null);
  const notJson = { stream: Readable.from([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{')]), size: 11, etag: '"y"' };
  assert.equal(await parametersFromHeader(notJson), null);
  assert.equal(await parametersFromHeader({ stream: Readable.from([Buffer.from('x')]), size: 1, etag: '"z"' }), null);
});
