/** The DT_NEEDED reader the image's CUDA check uses, against real shared libraries of known content. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { neededLibraries } from '../../../trainer/image/elf-needed.ts';

const ORT_LINUX_X64 = new URL('../../../node_modules/onnxruntime-node/bin/napi-v6/linux/x64/', import.meta.url);

test("onnxruntime-node 1.30's linux/x64 libraries: the NEEDED lists `readelf -d` prints, in its order", () => {
  // Recorded with binutils' `readelf -d <file> | grep NEEDED` on the locked onnxruntime-node 1.30.0.
  assert.deepEqual(neededLibraries(readFileSync(new URL('libonnxruntime.so.1', ORT_LINUX_X64))), [
    'libdl.so.2',
    'librt.so.1',
    'libpthread.so.0',
    'libstdc++.so.6',
    'libm.so.6',
    'libgcc_s.so.1',
    'libc.so.6',
    'ld-linux-x86-64.so.2',
  ]);
  assert.deepEqual(neededLibraries(readFileSync(new URL('onnxruntime_binding.node', ORT_LINUX_X64))), [
    'libonnxruntime.so.1',
    'libstdc++.so.6',
    'libm.so.6',
    'libgcc_s.so.1',
    'libc.so.6',
  ]);
});

test('refuses what it cannot read, saying why', () => {
  assert.throws(() => neededLibraries(Buffer.from('#!/bin/sh\necho not a library\n'.padEnd(80))), /not an ELF file/);
  const elf32 = Buffer.alloc(64);
  elf32.writeUInt32BE(0x7f454c46, 0);
  elf32[4] = 1; // ELFCLASS32
  elf32[5] = 1;
  assert.throws(() => neededLibraries(elf32), /only 64-bit little-endian/);
});

test('a file without a dynamic segment needs nothing', () => {
  const elf = Buffer.alloc(64);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf[5] = 1;
  // No program headers at all (phnum 0).
  assert.deepEqual(neededLibraries(elf), []);
});
