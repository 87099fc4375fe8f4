/**
 * The torch.save writer and the strict reader: our round trip is bit exact, Debian's torch loads what we
 * write with weights_only=True and gets the same bits, we read what torch writes, and anything a tensor
 * dict does not need (other globals, compression, corrupt data) is refused without executing pickle.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ModelFileError } from '../../../trainer/model-files/errors.ts';
import {
  decodeTorchStateDict,
  encodeTorchArchive,
  encodeTorchStateDict,
  readTorchStateDict,
  writeTorchStateDict,
} from '../../../trainer/model-files/pytorch-zip.ts';
import type { F32Tensor } from '../../../trainer/model-files/safetensors.ts';
import { Rng } from '../../../trainer/util/random.ts';
import { requireTorch, runPython } from '../../support/python-torch.ts';

const work = mkdtempSync(join(tmpdir(), 'pytorch-zip-'));

/** Random tensors plus the awkward values (signed zero, NaN, infinities, subnormals, extremes). */
function sample(): Map<string, F32Tensor> {
  const rng = new Rng(7);
  const t = new Map<string, F32Tensor>();
  t.set('bert.encoder.layer.0.output.adapters.sst2.adapter_down.0.weight', {
    shape: [3, 5],
    data: Float32Array.from({ length: 15 }, () => rng.normal()),
  });
  t.set('heads.sst2.1.bias', { shape: [2], data: Float32Array.from([-0, 1.4e-45]) });
  t.set('odd', {
    shape: [2, 1, 3],
    data: Float32Array.from([NaN, Infinity, -Infinity, 3.4028234663852886e38, -1.1754943508222875e-38, 0.1]),
  });
  t.set('empty', { shape: [0, 4], data: new Float32Array(0) });
  t.set('ünicode ✓', { shape: [1], data: Float32Array.from([42]) });
  return t;
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function assertSameBits(a: ReadonlyMap<string, F32Tensor>, b: ReadonlyMap<string, F32Tensor>) {
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [name, t] of a) {
    assert.deepEqual(b.get(name)!.shape, t.shape, name);
    assert.deepEqual(bits(b.get(name)!.data), bits(t.data), name);
  }
}

test('write then read gives every tensor back bit for bit, in order', () => {
  const t = sample();
  const path = join(work, 'rt.bin');
  writeTorchStateDict(path, t);
  assertSameBits(t, readTorchStateDict(path));
});

test('every record starts on a 64-byte boundary, as torch.save aligns them', () => {
  const buf = encodeTorchStateDict(sample());
  for (let p = buf.indexOf('PK\x03\x04'); p >= 0 && p < buf.length; p = buf.indexOf('PK\x03\x04', p + 4)) {
    const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
    assert.equal(start % 64, 0, `record at ${p}`);
    if (buf.readUInt32LE(p) !== 0x04034b50) break;
  }
});

test("Debian's torch loads our file with weights_only=True and gets the same bits", (t) => {
  if (!requireTorch(t)) return;
  const path = join(work, 'ours.bin');
  const tensors = sample();
  writeTorchStateDict(path, tensors);
  const out = runPython(
    `import json, sys, torch
d = torch.load(sys.argv[1], weights_only=True)
assert type(d) is dict, type(d)
print(json.dumps({k: {"shape": list(v.shape), "dtype": str(v.dtype), "bits": v.contiguous().view(torch.int32).flatten().tolist()} for k, v in d.items()}))`,
    '',
    [path],
  );
  const got = JSON.parse(out) as Record<string, { shape: number[]; dtype: string; bits: number[] }>;
  assert.deepEqual(Object.keys(got), [...tensors.keys()]);
  for (const [name, x] of tensors) {
    assert.equal(got[name].dtype, 'torch.float32');
    assert.deepEqual(got[name].shape, x.shape);
    assert.deepEqual(
      got[name].bits.map((b) => b >>> 0),
      bits(x.data),
      name,
    );
  }
});

test('we read what torch.save writes: a state_dict (OrderedDict with _metadata), a Parameter, float16, a view', (t) => {
  if (!requireTorch(t)) return;
  const path = join(work, 'theirs.bin');
  runPython(
    `import sys, torch
torch.manual_seed(0)
lin = torch.nn.Linear(3, 2)
sd = lin.state_dict()
big = torch.arange(12, dtype=torch.float32)
sd["view"] = big[4:10].view(2, 3)
sd["half"] = torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16)
sd["param"] = torch.nn.Parameter(torch.tensor([1.5, -0.0]))
torch.save(sd, sys.argv[1])
torch.save({"w": lin.weight.detach()}, sys.argv[1] + ".ref")`,
    '',
    [path],
  );
  const d = readTorchStateDict(path);
  assert.deepEqual([...d.keys()], ['weight', 'bias', 'view', 'half', 'param']);
  assertSameBits(new Map([['w', d.get('weight')!]]), new Map([['w', readTorchStateDict(`${path}.ref`).get('w')!]]));
  assert.deepEqual(Array.from(d.get('view')!.data), [4, 5, 6, 7, 8, 9]);
  assert.deepEqual(d.get('view')!.shape, [2, 3]);
  assert.deepEqual(Array.from(d.get('half')!.data), [0.5, -2, 65504]);
  assert.deepEqual(bits(d.get('param')!.data), bits(Float32Array.from([1.5, -0])));
});

test('a non-contiguous tensor (a transpose) is refused with the tensor named', (t) => {
  if (!requireTorch(t)) return;
  const path = join(work, 'transposed.bin');
  runPython('import sys, torch\ntorch.save({"t": torch.arange(6.).view(2, 3).t()}, sys.argv[1])', '', [path]);
  assert.throws(() => readTorchStateDict(path), /tensor "t": strides \[1,3\] are not contiguous/);
});

/** An archive holding only `pickle` as data.pkl, to forge hostile files. */
const withPickle = (pickle: Buffer) =>
  encodeTorchArchive([
    { name: 'data.pkl', data: pickle },
    { name: 'version', data: Buffer.from('3\n') },
  ]);

/** Where the data of record `name` starts in an archive we wrote. */
function recordStart(buf: Buffer, name: string): number {
  const at = buf.indexOf(`archive/${name}`) - 30;
  return at + 30 + buf.readUInt16LE(at + 26) + buf.readUInt16LE(at + 28);
}

test('a pickle that calls anything else (os.system) is refused, never run', () => {
  const evil = Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from('cos\nsystem\n'),
    Buffer.from([0x58, 4, 0, 0, 0]),
    Buffer.from('true'),
    Buffer.from([0x85, 0x52, 0x2e]),
  ]);
  assert.throws(
    () => decodeTorchStateDict(withPickle(evil), 'evil.bin'),
    (e: Error) => e instanceof ModelFileError && /references os\.system/.test(e.message),
  );
});

test('other refusals: not a zip, a corrupt record, a top level that is not a dict', () => {
  assert.throws(() => decodeTorchStateDict(Buffer.from('not a zip at all, just text'), 'x.bin'), /no ZIP end-of-central-directory/);
  const good = encodeTorchStateDict(sample());
  const flipped = Buffer.from(good);
  flipped[recordStart(good, 'data/0') + 5] ^= 1;
  assert.throws(() => decodeTorchStateDict(flipped, 'x.bin'), /CRC mismatch/);
  const list = Buffer.from([0x80, 0x02, 0x29, 0x2e]); // ()
  assert.throws(() => decodeTorchStateDict(withPickle(list), 'x.bin'), /is a tuple, expected a dict of tensors/);
  writeFileSync(join(work, 'trunc.bin'), readFileSync(join(work, 'rt.bin')).subarray(0, 100));
  assert.throws(() => readTorchStateDict(join(work, 'trunc.bin')), ModelFileError);
});

// --- hostile files that cost more than they weigh (issue 21, finding 5) ---------------------------------

/** A pickled dict whose every tensor views storage "0" (numel float32 values) from `offset`, `numel - offset` long. */
function sharedStoragePickle(names: string[], numel: number, offset = 0): Buffer {
  const parts: Buffer[] = [Buffer.from([0x80, 0x02, 0x7d, 0x28])]; // PROTO 2, EMPTY_DICT, MARK
  const unicode = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const head = Buffer.alloc(5);
    head[0] = 0x58;
    head.writeUInt32LE(b.length, 1);
    parts.push(head, b);
  };
  const int = (v: number) => {
    const b = Buffer.alloc(5);
    b[0] = 0x4a;
    b.writeInt32LE(v, 1);
    parts.push(b);
  };
  const op = (...bytes: number[]) => parts.push(Buffer.from(bytes));
  for (const name of names) {
    unicode(name);
    parts.push(Buffer.from('ctorch._utils\n_rebuild_tensor_v2\n'));
    op(0x28, 0x28); // MARK (arguments), MARK (persistent id)
    unicode('storage');
    parts.push(Buffer.from('ctorch\nFloatStorage\n'));
    unicode('0');
    unicode('cpu');
    int(numel);
    op(0x74, 0x51); // TUPLE, BINPERSID
    int(offset);
    op(0x28);
    int(numel - offset);
    op(0x74, 0x28); // size, then MARK for the stride
    int(1);
    op(0x74, 0x89); // stride, requires_grad False
    parts.push(Buffer.from('ccollections\nOrderedDict\n'));
    op(0x29, 0x52, 0x74, 0x52); // OrderedDict(), TUPLE, REDUCE
  }
  op(0x75, 0x2e); // SETITEMS, STOP
  return Buffer.concat(parts);
}

test('tensors sharing one storage: the review recipe (64 views of a 16 MB storage, 1 GB as float32) is refused before decoding', () => {
  const numel = 4 * 1024 * 1024;
  const names = Array.from({ length: 64 }, (_, i) => `w${i}`);
  const file = encodeTorchArchive([
    { name: 'data.pkl', data: sharedStoragePickle(names, numel) },
    { name: 'data/0', data: Buffer.alloc(numel * 4) },
    { name: 'version', data: Buffer.from('3\n') },
  ]);
  assert.throws(
    () => decodeTorchStateDict(file, 'shared.bin'),
    (e: Error) =>
      e instanceof ModelFileError && /^shared\.bin: its tensors come to more than 4 x the file's \d+ bytes as float32/.test(e.message),
  );
});

test('tensors sharing one storage within the bound (tied weights) decode it once and view it', () => {
  const numel = 1024;
  const storage = Buffer.alloc(numel * 4);
  for (let i = 0; i < numel; i++) storage.writeFloatLE(i, i * 4);
  const file = encodeTorchArchive([
    { name: 'data.pkl', data: sharedStoragePickle(['embeddings', 'decoder', 'tail'], numel, 0) },
    { name: 'data/0', data: storage },
    { name: 'version', data: Buffer.from('3\n') },
  ]);
  const out = decodeTorchStateDict(file, 'tied.bin');
  const [a, b] = [out.get('embeddings')!, out.get('decoder')!];
  assert.equal(a.data.buffer, b.data.buffer, 'one decoded storage under both');
  assert.equal(a.data[1000], 1000);
  a.data[3] = -1;
  assert.equal(b.data[3], -1, 'views, as PyTorch ties them');
});

test('ZIP entries that share data (the review recipe: 402 entries over one record) are refused before any CRC', () => {
  // A valid torch file, then 400 more central-directory entries naming the local header of data/0.
  const good = encodeTorchStateDict(new Map([['w', { shape: [1024], data: new Float32Array(1024) }]]));
  const eocd = good.length - 22;
  const cdOffset = good.readUInt32LE(eocd + 16);
  const count = good.readUInt16LE(eocd + 10);
  const central = good.subarray(cdOffset, eocd);
  let p = 0;
  let record: Buffer | null = null;
  for (let k = 0; k < count; k++) {
    const nameLen = central.readUInt16LE(p + 28);
    const entry = central.subarray(p, p + 46 + nameLen);
    if (entry.toString('utf8', 46) === 'archive/data/0') record = entry;
    p += 46 + nameLen + central.readUInt16LE(p + 30) + central.readUInt16LE(p + 32);
  }
  const aliases = Array.from({ length: 400 }, (_, i) => {
    const name = Buffer.from(`archive/data/alias${i}`);
    const entry = Buffer.concat([Buffer.from(record!.subarray(0, 46)), name]);
    entry.writeUInt16LE(name.length, 28);
    return entry;
  });
  const newCentral = Buffer.concat([central, ...aliases]);
  const end = Buffer.from(good.subarray(eocd));
  end.writeUInt16LE(count + 400, 8);
  end.writeUInt16LE(count + 400, 10);
  end.writeUInt32LE(newCentral.length, 12);
  const hostile = Buffer.concat([good.subarray(0, cdOffset), newCentral, end]);
  assert.equal(decodeTorchStateDict(good, 'good.bin').size, 1, 'the file before the aliases reads');
  assert.throws(
    () => decodeTorchStateDict(hostile, 'aliases.bin'),
    (e: Error) =>
      e instanceof ModelFileError &&
      /^aliases\.bin: ZIP entries "archive\/data\/0" \[\d+, \d+\) and "archive\/data\/alias0" \[\d+, \d+\) overlap/.test(e.message),
  );
});
