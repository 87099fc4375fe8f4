/**
 * From a byte stream to UTF-8 text, streamed: gzip is recognised by its magic bytes and decompressed on
 * the fly; an empty file, binary data (with what it looks like) and UTF-16 are refused by name; invalid
 * UTF-8 anywhere fails with its byte offset. Only the first few KiB are looked at up front (`head`), so
 * the readers can tell whether the file is what its extension says before parsing it.
 */
import { pipeline, Readable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { type Env, EnvError, integer } from '../env.ts';
import { DataError, DataLimitError } from './errors.ts';

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
 * is not text, or a `.gz` name whose bytes are not gzip. With `maxBytes`, reading past that many
 * (decompressed) bytes fails with a DataLimitError as the stream gets there: nothing larger is ever held.
 */
export async function openText(
  source: Readable | AsyncIterable<unknown>,
  name: string,
  opts: { maxBytes?: number } = {},
): Promise<TextStream> {
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
      throw new DataError(
        `${name}: not valid UTF-8 text (an invalid byte sequence between bytes ${offset} and ${offset + b.length}${gzip ? ' of the decompressed data' : ''})`,
      );
    }
  };
  // The head is decoded twice (here to look at, then in `chunks`): cheap, and keeps the decoder simple.
  const headText = new TextDecoder('utf-8').decode(head, { stream: true }).replace(/^\ufeff/, '');
  const maxBytes = opts.maxBytes ?? Infinity;
  let seen = 0;
  async function* chunks(): AsyncGenerator<string> {
    try {
      for await (const b of rest) {
        seen += b.length;
        if (seen > maxBytes)
          throw new DataLimitError(`${name}: more than ${maxBytes} bytes${gzip ? ' after decompression' : ''} (the limit)`, 'bytes');
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

/**
 * Longest line accepted by default (1 MiB of characters): real rows are far shorter, and a longer
 * "line" is not line-oriented text (or is one giant JSON value). ADAPTER_STORE_MAX_LINE_CHARS overrides it.
 */
export const MAX_LINE_CHARS = 1024 * 1024;

/** The line cap: ADAPTER_STORE_MAX_LINE_CHARS when set (a positive integer), else MAX_LINE_CHARS. */
export function maxLineCharsFromEnv(env: Env = process.env): number {
  try {
    return integer(env, 'ADAPTER_STORE_MAX_LINE_CHARS', { min: 1 }, MAX_LINE_CHARS);
  } catch (err) {
    // A data-reading error, as every other refusal of the dataset readers.
    throw err instanceof EnvError ? new DataError(err.message) : err;
  }
}

/**
 * Splits text into lines (LF or CRLF), numbered from 1, every line (blank ones too) in order. Linear in
 * the text's length: only each new chunk is searched for a newline, and the pieces of a line that spans
 * chunks are joined once, when it ends. A line over `maxLineChars` fails as soon as it gets there.
 */
export async function* splitLines(
  chunks: AsyncIterable<string>,
  name: string,
  maxLineChars = MAX_LINE_CHARS,
): AsyncGenerator<{ line: number; text: string }> {
  // The unfinished line: pieces of earlier chunks, not yet joined.
  let pending: string[] = [];
  let pendingChars = 0;
  let line = 0;
  const tooLong = (): DataError =>
    new DataLimitError(
      `${name}:${line + 1}: line ${line + 1} is longer than ${maxLineChars} characters (the limit; ADAPTER_STORE_MAX_LINE_CHARS raises it)`,
      'line',
    );
  const finish = (piece: string): string => {
    if (pending.length === 0) return piece;
    pending.push(piece);
    const whole = pending.join('');
    pending = [];
    pendingChars = 0;
    return whole;
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      if (pendingChars + (nl - start) > maxLineChars + 1) throw tooLong(); // +1: a CR before the LF
      let text = finish(chunk.slice(start, nl));
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (text.length > maxLineChars) throw tooLong();
      line++;
      yield { line, text };
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending.push(start === 0 ? chunk : chunk.slice(start));
      pendingChars += chunk.length - start;
      if (pendingChars > maxLineChars + 1) throw tooLong();
    }
  }
  if (pendingChars > 0) {
    let text = finish('');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.length > maxLineChars) throw tooLong();
    line++;
    yield { line, text };
  }
}
