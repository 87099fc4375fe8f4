/**
 * From a byte stream to UTF-8 text, streamed: gzip is recognised by its magic bytes and decompressed on
 * the fly; an empty file, binary data (with what it looks like) and UTF-16 are refused by name; invalid
 * UTF-8 anywhere fails with its byte offset. Only the first few KiB are looked at up front (`head`), so
 * the readers can tell whether the file is what its extension says before parsing it.
 */
import { pipeline, Readable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { DataError } from './errors.ts';

/** How much of the start of the (decompressed) file is examined before streaming the rest. */
const HEAD_BYTES = 8192;

export interface TextStream {
  /** The first few KiB of the text (byte-order mark removed); also the start of `chunks`. */
  head: string;
  /** Whether the bytes were gzip-compressed. */
  gzip: boolean;
  /** The whole text in order, head included. Ending the iteration early releases the source. */
  chunks: AsyncGenerator<string>;
  /** Releases the source (and the decompressor) whether or not `chunks` was read; idempotent. */
  close: () => Promise<void>;
}

interface Peeked {
  head: Buffer;
  /** The whole stream again, head first. */
  rest: AsyncGenerator<Buffer>;
  /** Releases the source (also when `rest` was never started, where rest.return() would run no cleanup). */
  close: () => Promise<void>;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError(`unexpected stream chunk of type ${typeof chunk}`);
}

/** Reads at least HEAD_BYTES (or everything) and hands back a stream that starts over from byte 0. */
async function peek(source: AsyncIterable<unknown>): Promise<Peeked> {
  const it = source[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let size = 0;
  let done = false;
  try {
    while (size < HEAD_BYTES) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      const b = toBuffer(r.value);
      parts.push(b);
      size += b.length;
    }
  } catch (err) {
    await it.return?.();
    throw err;
  }
  const head = Buffer.concat(parts);
  let closed = done;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    // The file handle, or the S3 connection.
    await it.return?.();
  };
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      if (done) return;
      for (;;) {
        const r = await it.next();
        if (r.done) {
          closed = true;
          return;
        }
        yield toBuffer(r.value);
      }
    } finally {
      // An early end (an error downstream, or the reader giving up) releases the source.
      await close();
    }
  }
  return { head, rest: rest(), close };
}

const MAGIC: [number[], string][] = [
  [[0x50, 0x4b, 0x03, 0x04], 'a ZIP archive (an .xlsx workbook is one)'],
  [[0x50, 0x41, 0x52, 0x31], 'a Parquet file'],
  [[0x25, 0x50, 0x44, 0x46], 'a PDF document'],
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'],
  [[0x42, 0x5a, 0x68], 'bzip2-compressed data (only gzip is read)'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a], 'xz-compressed data (only gzip is read)'],
  [[0x28, 0xb5, 0x2f, 0xfd], 'zstd-compressed data (only gzip is read)'],
  [[0x37, 0x7a, 0xbc, 0xaf], 'a 7z archive'],
  [[0x53, 0x51, 0x4c, 0x69, 0x74, 0x65], 'an SQLite database'],
  [[0xd0, 0xcf, 0x11, 0xe0], 'a legacy Office document (.xls)'],
];

function startsWith(b: Buffer, magic: number[]): boolean {
  return b.length >= magic.length && magic.every((x, i) => b[i] === x);
}

/** What binary bytes look like, or null for (possibly) text. */
export function binaryKind(head: Buffer): string | null {
  for (const [magic, what] of MAGIC) if (startsWith(head, magic)) return what;
  if (startsWith(head, [0xff, 0xfe]) || startsWith(head, [0xfe, 0xff])) return 'UTF-16 text (save it as UTF-8)';
  if (head.includes(0)) return 'binary data (it contains NUL bytes)';
  return null;
}

const isGzip = (b: Buffer): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * Opens `source` (the raw bytes of `name`) as text. Throws a DataError for an empty file, a file that
 * is not text, or a `.gz` name whose bytes are not gzip.
 */
export async function openText(source: Readable | AsyncIterable<unknown>, name: string): Promise<TextStream> {
  let { head, rest, close } = await peek(source);
  const gzip = isGzip(head);
  if (gzip) {
    const gunzip = createGunzip();
    // pipeline: a source error or a corrupt stream surfaces on `gunzip`; destroying `gunzip` (the reader
    // stopping early) ends the source.
    pipeline(Readable.from(rest, { objectMode: false }), gunzip, () => {});
    const outer = close;
    const inner = await peek(gunzipChunks(gunzip, name));
    ({ head, rest } = inner);
    close = async () => {
      await inner.close();
      gunzip.destroy();
      await outer();
    };
  } else if (/\.gz$/i.test(name) && head.length > 0) {
    await close();
    throw new DataError(`${name}: named .gz but is not gzip-compressed`);
  }
  if (head.length === 0) {
    await close();
    throw new DataError(`${name}: empty file${gzip ? ' (after decompression)' : ''} (no rows)`);
  }
  const binary = binaryKind(head);
  if (binary) {
    await close();
    throw new DataError(`${name}: not a text file: it looks like ${binary}`);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let offset = 0;
  const decode = (b: Buffer, last: boolean): string => {
    try {
      const s = decoder.decode(b, { stream: !last });
      offset += b.length;
      return s;
    } catch {
      throw new DataError(`${name}: not valid UTF-8 text (an invalid byte sequence between bytes ${offset} and ${offset + b.length}${gzip ? ' of the decompressed data' : ''})`);
    }
  };
  // The head is decoded twice (here to look at, then in `chunks`): cheap, and keeps the decoder simple.
  const headText = new TextDecoder('utf-8').decode(head, { stream: true }).replace(/^\ufeff/, '');
  async function* chunks(): AsyncGenerator<string> {
    try {
      for await (const b of rest) {
        const s = decode(b, false);
        if (s.length > 0) yield s;
      }
      const tail = decode(Buffer.alloc(0), true);
      if (tail.length > 0) yield tail;
    } finally {
      await rest.return(undefined);
      await close();
    }
  }
  return { head: headText, gzip, chunks: chunks(), close: () => close() };
}

async function* gunzipChunks(gunzip: Gunzip, name: string): AsyncGenerator<Buffer> {
  try {
    for await (const b of gunzip) yield b as Buffer;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw new DataError(`${name}: corrupt gzip data (${(err as Error).message})`);
    throw err;
  } finally {
    gunzip.destroy();
  }
}

/** Longest line accepted: beyond this a file is not line-oriented text (or is one giant JSON value). */
export const MAX_LINE_CHARS = 64 * 1024 * 1024;

/**
 * Splits text into lines (LF or CRLF), numbered from 1, every line (blank ones too) in order.
 */
export async function* splitLines(chunks: AsyncIterable<string>, name: string): AsyncGenerator<{ line: number; text: string }> {
  let carry = '';
  let line = 0;
  for await (const chunk of chunks) {
    const s = carry + chunk;
    let start = 0;
    for (;;) {
      const nl = s.indexOf('\n', start);
      if (nl < 0) break;
      line++;
      const end = nl > start && s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield { line, text: s.slice(start, end) };
      start = nl + 1;
    }
    carry = s.slice(start);
    if (carry.length > MAX_LINE_CHARS) throw new DataError(`${name}:${line + 1}: line longer than ${MAX_LINE_CHARS} characters`);
  }
  if (carry.length > 0) {
    line++;
    yield { line, text: carry.endsWith('\r') ? carry.slice(0, -1) : carry };
  }
}
