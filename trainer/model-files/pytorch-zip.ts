/**
 * PyTorch's `torch.save` file format for the one case adapters need: a dict of name -> float tensor.
 *
 * The file is an uncompressed ZIP archive: `<archive>/data.pkl` (a pickle, protocol 2, whose tensors are
 * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)` calls and whose
 * storages are persistent ids `('storage', torch.FloatStorage, key, 'cpu', numel)`), one
 * `<archive>/data/<key>` record of raw little-endian bytes per storage, `byteorder` and `version`.
 *
 * The writer emits what `torch.load(weights_only=True)` accepts. The reader is a small pickle machine
 * that knows only the opcodes and the four globals such a file uses, and refuses anything else: pickle
 * is never executed.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { BaseWeightDtype } from '../../shared/vocabulary.ts';
import { ModelFileError } from './errors.ts';
import { decodeBf16, decodeF16 } from './float16.ts';
import type { F32Tensor } from './safetensors.ts';
import { firstOverlap } from './tensor-ranges.ts';

/** Archive directory name inside the ZIP (torch.save uses "archive"; readers accept any single prefix). */
const ARCHIVE = 'archive';
/** torch.save aligns every record's data to 64 bytes (so it can be memory-mapped). */
const ALIGN = 64;

// ---------------------------------------------------------------------------------------------
// writing

/** Serialises `tensors` (in map order) as torch.save(dict) would; returns the file bytes. */
export function encodeTorchStateDict(tensors: ReadonlyMap<string, F32Tensor>): Buffer {
  const records: { name: string; data: Buffer }[] = [];
  const pickle = new PickleWriter();
  pickle.op(0x80, 2); // PROTO 2
  pickle.op(0x7d); // EMPTY_DICT
  pickle.op(0x28); // MARK
  let key = 0;
  for (const [name, t] of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length)
      throw new ModelFileError(`tensor "${name}": shape [${t.shape}] holds ${numel} values, data has ${t.data.length}`);
    pickle.unicode(name);
    pickle.global('torch._utils', '_rebuild_tensor_v2');
    pickle.op(0x28); // MARK: the call's arguments
    pickle.op(0x28); // MARK: the persistent id
    pickle.unicode('storage');
    pickle.global('torch', 'FloatStorage');
    pickle.unicode(String(key));
    pickle.unicode('cpu');
    pickle.int(numel);
    pickle.op(0x74); // TUPLE
    pickle.op(0x51); // BINPERSID
    pickle.int(0); // storage offset
    pickle.intTuple(t.shape);
    pickle.intTuple(contiguousStrides(t.shape));
    pickle.op(0x89); // NEWFALSE: requires_grad
    pickle.global('collections', 'OrderedDict');
    pickle.op(0x29); // EMPTY_TUPLE
    pickle.op(0x52); // REDUCE: OrderedDict() = no backward hooks
    pickle.op(0x74); // TUPLE
    pickle.op(0x52); // REDUCE: _rebuild_tensor_v2(...)
    records.push({ name: `data/${key}`, data: float32Bytes(t.data) });
    key++;
  }
  pickle.op(0x75); // SETITEMS
  pickle.op(0x2e); // STOP
  return encodeTorchArchive([
    { name: 'data.pkl', data: pickle.bytes() },
    { name: 'byteorder', data: Buffer.from('little') },
    ...records,
    { name: 'version', data: Buffer.from('3\n') },
  ]);
}

export function writeTorchStateDict(path: string, tensors: ReadonlyMap<string, F32Tensor>): void {
  writeFileSync(path, encodeTorchStateDict(tensors));
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

function float32Bytes(data: Float32Array): Buffer {
  const out = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], i * 4);
  return out;
}

class PickleWriter {
  private parts: Buffer[] = [];
  op(...bytes: number[]): void {
    this.parts.push(Buffer.from(bytes));
  }
  unicode(s: string): void {
    const b = Buffer.from(s, 'utf8');
    const head = Buffer.alloc(5);
    head[0] = 0x58; // BINUNICODE
    head.writeUInt32LE(b.length, 1);
    this.parts.push(head, b);
  }
  global(module: string, name: string): void {
    this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'ascii'));
  }
  int(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff)
      throw new ModelFileError(`cannot write ${v} into a torch file (only integers 0..2^31-1)`);
    const b = Buffer.alloc(5);
    b[0] = 0x4a; // BININT
    b.writeInt32LE(v, 1);
    this.parts.push(b);
  }
  intTuple(values: readonly number[]): void {
    this.op(0x28); // MARK
    for (const v of values) this.int(v);
    this.op(0x74); // TUPLE
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** A ZIP archive of stored (uncompressed) entries under `archive/`, each entry's data 64-byte aligned, as torch.save lays it out. */
export function encodeTorchArchive(entries: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(`${ARCHIVE}/${e.name}`, 'utf8');
    const crc = crc32(e.data) >>> 0;
    // Pad with an extra field (id "FB", as torch.save does) so the data starts on an ALIGN boundary.
    const headerEnd = offset + 30 + name.length;
    const pad = (ALIGN - ((headerEnd + 4) % ALIGN)) % ALIGN;
    const extra = Buffer.alloc(4 + pad);
    extra.write('FB', 0, 'ascii');
    extra.writeUInt16LE(pad, 2);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10); // time
    local.writeUInt16LE(0x21, 12); // date: 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    parts.push(local, name, extra, e.data);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4); // made by
    cd.writeUInt16LE(20, 6); // needed
    cd.writeUInt16LE(0, 8);
    cd.writeUInt16LE(0, 10);
    cd.writeUInt16LE(0, 12);
    cd.writeUInt16LE(0x21, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(e.data.length, 20);
    cd.writeUInt32LE(e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    // extra 30, comment 32, disk 34, internal attrs 36, external attrs 38: all 0
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    offset += local.length + name.length + extra.length + e.data.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  if (offset > 0xffffffff) throw new ModelFileError('torch file over 4 GiB (zip64) is not supported');
  return Buffer.concat([...parts, cdBytes, end]);
}

// ---------------------------------------------------------------------------------------------
// reading

/** Reads a torch.save'd dict of float tensors (F32, F16, BF16) as float32, in file order. */
export function readTorchStateDict(path: string): Map<string, F32Tensor> {
  let buffer: Buffer;
  try {
    buffer = readFileSync(path);
  } catch (err) {
    throw new ModelFileError(`${path}: cannot read (${(err as Error).message})`);
  }
  return decodeTorchStateDict(buffer, path);
}

/** As readTorchStateDict, from bytes; `path` only names the file in errors. */
export function decodeTorchStateDict(buffer: Buffer, path: string): Map<string, F32Tensor> {
  const fail = (msg: string): never => {
    throw new ModelFileError(`${path}: ${msg}`);
  };
  const records = readZipStored(buffer, fail);
  const prefixes = new Set([...records.keys()].map((n) => n.split('/')[0]));
  if (prefixes.size !== 1) fail(`not a torch.save file (entries under ${prefixes.size} top-level directories)`);
  const prefix = [...prefixes][0];
  const record = (name: string) => records.get(`${prefix}/${name}`);
  const pkl = record('data.pkl') ?? fail(`not a torch.save file (no ${prefix}/data.pkl)`);
  const byteorder = record('byteorder');
  if (byteorder && byteorder.toString('ascii') !== 'little')
    fail(`byteorder "${byteorder.toString('ascii')}" is not supported (only little-endian)`);

  const root = unpickle(pkl, fail);
  if (!(root instanceof PDict)) fail(`the pickled object is a ${describe(root)}, expected a dict of tensors`);
  // Everything is checked, and the float32 bytes the dict hands out are counted, before anything is decoded.
  const tensors: [string, PTensor, number][] = [];
  let handedOut = 0;
  for (const [name, value] of (root as PDict).map) {
    if (!(value instanceof PTensor)) fail(`entry "${name}" is a ${describe(value)}, expected a tensor`);
    const t = value as PTensor;
    const raw = record(`data/${t.storage.key}`) ?? fail(`tensor "${name}": storage record data/${t.storage.key} is missing`);
    const itemSize = DTYPE_BYTES[t.storage.dtype];
    if (raw.length !== t.storage.numel * itemSize)
      fail(`tensor "${name}": storage data/${t.storage.key} has ${raw.length} bytes, expected ${t.storage.numel} x ${itemSize}`);
    const numel = t.size.reduce((a, b) => a * b, 1);
    const expected = contiguousStrides(t.size);
    if (t.size.some((d, i) => d > 1 && t.stride[i] !== expected[i]))
      fail(`tensor "${name}": strides [${t.stride}] are not contiguous for shape [${t.size}] (only contiguous tensors are read)`);
    if (t.offset + numel > t.storage.numel)
      fail(`tensor "${name}": offset ${t.offset} + ${numel} values exceed its storage of ${t.storage.numel}`);
    handedOut += numel * 4;
    if (handedOut > MAX_DECODED_RATIO * buffer.length)
      fail(
        `its tensors come to more than ${MAX_DECODED_RATIO} x the file's ${buffer.length} bytes as float32 (tensors sharing one storage over and over); refused`,
      );
    tensors.push([name, t, numel]);
  }
  // A storage is decoded once; its tensors are views into it (tied weights share memory, as in PyTorch).
  const decoded = new Map<string, { dtype: Dtype; data: Float32Array }>();
  const out = new Map<string, F32Tensor>();
  for (const [name, t, numel] of tensors) {
    let storage = decoded.get(t.storage.key);
    if (!storage) {
      storage = { dtype: t.storage.dtype, data: decodeFloats(record(`data/${t.storage.key}`)!, t.storage.dtype) };
      decoded.set(t.storage.key, storage);
    } else if (storage.dtype !== t.storage.dtype) {
      fail(`tensor "${name}": storage data/${t.storage.key} is read as ${t.storage.dtype} here and as ${storage.dtype} before`);
    }
    out.set(name, { shape: t.size, data: storage.data.subarray(t.offset, t.offset + numel) });
  }
  return out;
}

/**
 * The float32 bytes a file may decode to, as a multiple of its size: F16 doubles, tied weights add a
 * little; a file whose tensors view one storage again and again (16 MB naming 1 GB) is refused.
 */
export const MAX_DECODED_RATIO = 4;

type Dtype = BaseWeightDtype;
const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2 };
const STORAGE_DTYPES: Record<string, Dtype> = { FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16' };

function decodeFloats(bytes: Buffer, dtype: Dtype): Float32Array {
  if (dtype !== 'F32') {
    const halves = new Uint16Array(bytes.length / 2);
    for (let i = 0; i < halves.length; i++) halves[i] = bytes.readUInt16LE(i * 2);
    const out = new Float32Array(halves.length);
    return dtype === 'F16' ? decodeF16(halves, out) : decodeBf16(halves, out);
  }
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/** Stored ZIP entries by name; refuses compression, encryption, zip64 and bad CRCs. */
function readZipStored(buf: Buffer, fail: (msg: string) => never): Map<string, Buffer> {
  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('not a torch.save file (no ZIP end-of-central-directory record; legacy non-zip torch files are not read)');
  const count = buf.readUInt16LE(eocd + 10);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) fail('zip64 archives are not supported');
  const entries: { name: string; crc: number; local: number; start: number; size: number }[] = [];
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) fail(`corrupt ZIP central directory (entry ${k})`);
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const csize = buf.readUInt32LE(p + 20);
    const usize = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    if (method !== 0) fail(`entry ${name} is compressed (method ${method}); torch.save writes stored entries only`);
    if (flags & 1) fail(`entry ${name} is encrypted`);
    if (csize !== usize) fail(`entry ${name}: stored sizes differ`);
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) fail(`entry ${name}: bad local header offset`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (start + csize > buf.length) fail(`entry ${name} runs past the end of the file`);
    entries.push({ name, crc, local, start, size: csize });
    p += 46 + nameLen + extraLen + commentLen;
  }
  // Entries sharing bytes (one local header named by many central entries) would be CRC-checked once
  // each: 65,534 entries over one 33 MB record took 18 minutes. Each byte belongs to one entry.
  const overlap = firstOverlap(
    entries.map((e) => ({ name: e.name, begin: e.local, end: e.start + e.size })),
    'ZIP entries',
  );
  if (overlap) fail(overlap);
  const out = new Map<string, Buffer>();
  for (const e of entries) {
    const data = buf.subarray(e.start, e.start + e.size);
    if (out.has(e.name)) fail(`entry ${e.name} appears twice`);
    if (crc32(data) >>> 0 !== e.crc) fail(`entry ${e.name}: CRC mismatch (corrupt file)`);
    out.set(e.name, data);
  }
  return out;
}

// The pickle machine's values.
class PGlobal {
  constructor(readonly name: string) {}
}
class PDict {
  readonly map = new Map<string, PValue>();
}
class PStorage {
  constructor(
    readonly dtype: Dtype,
    readonly key: string,
    readonly numel: number,
  ) {}
}
class PTensor {
  constructor(
    readonly storage: PStorage,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}
type PValue = PGlobal | PDict | PStorage | PTensor | PValue[] | string | number | boolean | null;
const MARK = Symbol('mark');

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
]);

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'tuple';
  if (v instanceof PGlobal) return `global ${v.name}`;
  if (v instanceof PDict) return 'dict';
  if (v instanceof PStorage) return 'storage';
  if (v instanceof PTensor) return 'tensor';
  return typeof v;
}

/** Interprets the pickle opcodes a torch.save of a tensor dict uses; anything else is an error. */
function unpickle(b: Buffer, fail: (msg: string) => never): PValue {
  const stack: (PValue | typeof MARK)[] = [];
  const memo = new Map<number, PValue>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > b.length) fail('data.pkl ends in the middle of an opcode');
  };
  const pop = (): PValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) fail('data.pkl: stack underflow');
    return v as PValue;
  };
  const popMark = (): PValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('data.pkl: no MARK on the stack');
    const items = stack.splice(i) as PValue[];
    items.shift();
    return items;
  };
  const line = (): string => {
    const end = b.indexOf(0x0a, p);
    if (end < 0) fail('data.pkl: unterminated GLOBAL');
    const s = b.toString('ascii', p, end);
    p = end + 1;
    return s;
  };
  const str = (n: number): string => {
    need(n);
    const s = b.toString('utf8', p, p + n);
    p += n;
    return s;
  };
  const global = (module: string, name: string): PGlobal => {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full))
      fail(`data.pkl references ${full}, which a state dict of float tensors never needs (refused; pickle is not executed)`);
    return new PGlobal(full);
  };
  const setItems = (dict: PValue, items: PValue[]) => {
    if (!(dict instanceof PDict)) fail(`data.pkl: SETITEM on a ${describe(dict)}`);
    for (let i = 0; i < items.length; i += 2) {
      if (typeof items[i] !== 'string') fail(`data.pkl: dict key is a ${describe(items[i])}, expected a string`);
      (dict as PDict).map.set(items[i] as string, items[i + 1]);
    }
  };
  const ints = (v: PValue, what: string): number[] => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0))
      fail(`data.pkl: ${what} is not a tuple of non-negative integers`);
    return v as number[];
  };
  const reduce = (fn: PValue, args: PValue): PValue => {
    if (!(fn instanceof PGlobal) || !Array.isArray(args)) fail(`data.pkl: REDUCE of a ${describe(fn)}`);
    const a = args as PValue[];
    switch ((fn as PGlobal).name) {
      case 'collections.OrderedDict':
        if (a.length !== 0) fail('data.pkl: OrderedDict called with arguments');
        return new PDict();
      case 'torch._utils._rebuild_tensor_v2': {
        if (a.length < 6 || a.length > 7) fail(`data.pkl: _rebuild_tensor_v2 with ${a.length} arguments`);
        const [storage, offset, size, stride, , hooks] = a;
        if (!(storage instanceof PStorage)) fail('data.pkl: tensor without a storage');
        if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) fail('data.pkl: bad storage offset');
        if (!(hooks instanceof PDict) || hooks.map.size > 0) fail('data.pkl: tensor with backward hooks');
        const s = ints(size, 'size');
        const st = ints(stride, 'stride');
        if (s.length !== st.length) fail('data.pkl: size and stride differ in length');
        return new PTensor(storage as PStorage, offset as number, s, st);
      }
      case 'torch._utils._rebuild_parameter': {
        if (a.length !== 3 || !(a[0] instanceof PTensor)) fail('data.pkl: malformed _rebuild_parameter');
        if (!(a[2] instanceof PDict) || a[2].map.size > 0) fail('data.pkl: parameter with backward hooks');
        return a[0];
      }
      default:
        return fail(`data.pkl: ${(fn as PGlobal).name} cannot be called`);
    }
  };

  for (;;) {
    need(1);
    const op = b[p++];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        if (b[p] > 5) fail(`data.pkl: pickle protocol ${b[p]} is not supported`);
        p++;
        break;
      case 0x95: // FRAME (protocol 4): a length hint only
        need(8);
        p += 8;
        break;
      case 0x63: // GLOBAL
        stack.push(global(line(), line()));
        break;
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('data.pkl: STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x71: // BINPUT
        need(1);
        memo.set(b[p++], stack.at(-1) as PValue);
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(b.readUInt32LE(p), stack.at(-1) as PValue);
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, stack.at(-1) as PValue);
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const n = op === 0x68 ? 1 : 4;
        need(n);
        const k = n === 1 ? b[p] : b.readUInt32LE(p);
        p += n;
        if (!memo.has(k)) fail(`data.pkl: memo entry ${k} read before it is written`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PDict());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        const items: PValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        stack.push(items);
        break;
      }
      case 0x58: {
        // BINUNICODE
        need(4);
        const n = b.readUInt32LE(p);
        p += 4;
        stack.push(str(n));
        break;
      }
      case 0x8c: {
        // SHORT_BINUNICODE
        need(1);
        const n = b[p++];
        stack.push(str(n));
        break;
      }
      case 0x4b: // BININT1
        need(1);
        stack.push(b[p++]);
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(b.readUInt16LE(p));
        p += 2;
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(b.readInt32LE(p));
        p += 4;
        break;
      case 0x8a: {
        // LONG1
        need(1);
        const n = b[p++];
        need(n);
        if (n > 6) fail('data.pkl: integer too large');
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + b[p + i];
        if (n > 0 && b[p + n - 1] & 0x80) v -= 2 ** (8 * n);
        p += n;
        stack.push(v);
        break;
      }
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(reduce(fn, args));
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') fail('data.pkl: persistent id is not a storage reference');
        const [, type, key, , numel] = pid as PValue[];
        if (!(type instanceof PGlobal)) fail('data.pkl: storage type is not a global');
        const dtype = STORAGE_DTYPES[(type as PGlobal).name.replace(/^torch\./, '')];
        if (!dtype) fail(`data.pkl: storage type ${(type as PGlobal).name} is not a float type`);
        if (typeof key !== 'string' || !/^[0-9A-Za-z_]+$/.test(key)) fail('data.pkl: bad storage key');
        if (typeof numel !== 'number' || !Number.isInteger(numel) || numel < 0) fail('data.pkl: bad storage size');
        stack.push(new PStorage(dtype, key as string, numel as number));
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(stack.at(-1) as PValue, [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('data.pkl: SETITEMS with an odd number of items');
        setItems(stack.at(-1) as PValue, items);
        break;
      }
      case 0x62: {
        // BUILD: only nn.Module.state_dict()'s `_metadata` attribute on its OrderedDict (ignored)
        const state = pop();
        const target = stack.at(-1);
        if (!(target instanceof PDict) || !(state instanceof PDict) || [...state.map.keys()].some((k) => k !== '_metadata'))
          fail("data.pkl: BUILD other than a state dict's _metadata (refused)");
        break;
      }
      case 0x2e: {
        // STOP
        const v = pop();
        if (p !== b.length) fail('data.pkl: bytes after STOP');
        return v;
      }
      default:
        return fail(`data.pkl: pickle opcode 0x${op.toString(16).padStart(2, '0')} is not used by a state dict of tensors (refused)`);
    }
  }
}
