/**
 * The DT_NEEDED entries of an ELF shared library: the sonames the dynamic loader must find for it to load.
 * Read here rather than with readelf because the trainer image's CUDA base has no binutils; only what
 * the check needs is parsed (64-bit little-endian, the program headers, the dynamic segment).
 */

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;

interface Segment {
  type: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
}

/** Maps a virtual address to a file offset through the PT_LOAD segment that contains it. */
function fileOffset(loads: Segment[], vaddr: bigint): number {
  const seg = loads.find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + BigInt(s.filesz));
  if (!seg) throw new Error(`ELF: address 0x${vaddr.toString(16)} is in no loadable segment`);
  return seg.offset + Number(vaddr - seg.vaddr);
}

function cString(buf: Buffer, at: number): string {
  const end = buf.indexOf(0, at);
  if (end < 0) throw new Error(`ELF: unterminated string at offset ${at}`);
  return buf.toString('latin1', at, end);
}

/** The sonames a 64-bit little-endian ELF file names as DT_NEEDED, in the file's order. */
export function neededLibraries(buf: Buffer): string[] {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error('only 64-bit little-endian ELF files are read (EI_CLASS 2, EI_DATA 1)');
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 56 > buf.length) throw new Error('ELF: program header table runs past the end of the file');
    segments.push({
      type: buf.readUInt32LE(at),
      offset: Number(buf.readBigUInt64LE(at + 8)),
      vaddr: buf.readBigUInt64LE(at + 16),
      filesz: Number(buf.readBigUInt64LE(at + 32)),
    });
  }
  const dynamic = segments.find((s) => s.type === PT_DYNAMIC);
  if (!dynamic) return []; // statically linked: needs nothing
  const entries: [bigint, bigint][] = [];
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.filesz; at += 16) {
    const tag = buf.readBigInt64LE(at);
    if (tag === DT_NULL) break;
    entries.push([tag, buf.readBigUInt64LE(at + 8)]);
  }
  const strtab = entries.find(([tag]) => tag === DT_STRTAB);
  if (!strtab) throw new Error('ELF: dynamic segment has no string table (DT_STRTAB)');
  const strings = fileOffset(
    segments.filter((s) => s.type === PT_LOAD),
    strtab[1],
  );
  return entries.filter(([tag]) => tag === DT_NEEDED).map(([, nameAt]) => cString(buf, strings + Number(nameAt)));
}
