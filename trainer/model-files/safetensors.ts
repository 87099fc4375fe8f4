/**
 * safetensors files on disk: the format itself (parsing, validation, dtypes, encoding) is
 * safetensors-format.ts, shared with the runtimes; this adds reading a file into ONE Buffer (tensors are
 * views into it, so a float32 checkpoint costs its file size in memory and no more) and atomic writes.
 */

import { constants as bufferConstants } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { ModelFileError } from './errors.ts';
import {
  encodeSafetensors,
  type F32Tensor,
  f32ToRaw,
  type ParsedSafetensors,
  parseSafetensors,
  type RawTensor,
} from './safetensors-format.ts';

export {
  DTYPE_SIZES,
  type F32Tensor,
  ModelFileError,
  parseSafetensors,
  type RawTensor,
  toFloat32,
} from './safetensors-format.ts';

export interface SafetensorsFile extends ParsedSafetensors {
  path: string;
  /** The whole file. */
  buffer: Buffer;
}

/** Reads and validates a safetensors file: one read into one Buffer, tensors are views into it. */
export function readSafetensors(path: string): SafetensorsFile {
  const buffer = readWholeFile(path);
  return { path, buffer, ...parseSafetensors(buffer, path) };
}

/** Writes float32 tensors (keys sorted, data 8-byte aligned like the Python library), atomically. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, F32Tensor> | ReadonlyMap<string, F32Tensor>,
  metadata?: Record<string, string>,
): void {
  writeSafetensorsRaw(path, f32ToRaw(tensors), metadata);
}

/** Writes tensors of any dtype from their little-endian bytes, atomically (order: encodeSafetensors). */
export function writeSafetensorsRaw(
  path: string,
  tensors: Record<string, RawTensor> | ReadonlyMap<string, RawTensor>,
  metadata?: Record<string, string>,
): void {
  writeAtomically(path, encodeSafetensors(tensors, metadata, path));
}

function writeAtomically(path: string, chunks: Uint8Array[]): void {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
  try {
    let position = 0;
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.byteLength) {
        done += writeSync(fd, chunk, done, chunk.byteLength - done, position + done);
      }
      position += chunk.byteLength;
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* never created or already renamed */
    }
    throw e;
  }
}

function readWholeFile(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFileError(code === 'ENOENT' ? `${path}: file not found` : `${path}: cannot open (${(e as Error).message})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ModelFileError(`${path}: not a regular file`);
    if (stat.size > bufferConstants.MAX_LENGTH) {
      throw new ModelFileError(`${path}: file of ${stat.size} bytes exceeds the largest Buffer (${bufferConstants.MAX_LENGTH})`);
    }
    // allocUnsafeSlow: never a slice of the shared pool, so byteOffset is 0 and views stay aligned.
    const buffer = Buffer.allocUnsafeSlow(stat.size);
    let done = 0;
    while (done < stat.size) {
      const n = readSync(fd, buffer, done, Math.min(stat.size - done, 1 << 30), done);
      if (n === 0) throw new ModelFileError(`${path}: file shrank while being read`);
      done += n;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}
