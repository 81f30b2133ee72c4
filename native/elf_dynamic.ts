/** ELF `e_machine` values of the architectures edgellm ships. */
export const ELF_MACHINE = { x86_64: 62, aarch64: 183 } as const;

/** What the dynamic loader needs to know about an ELF file. */
export interface ElfDynamic {
  /** `e_machine`, e.g. 62 for x86-64, 183 for AArch64. */
  machine: number;
  /** `PT_INTERP`: the loader an executable asks for, e.g. `/lib64/ld-linux-x86-64.so.2`. */
  interpreter: string | null;
  /** `DT_NEEDED` entries in order. */
  needed: string[];
  /** `DT_SONAME`. */
  soname: string | null;
  /** `DT_RUNPATH` (or the older `DT_RPATH`) split at `:`. */
  runpath: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_SONAME = 14n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

/**
 * Reads the program headers and dynamic section of a 64-bit little-endian ELF file (both
 * x86-64 and AArch64 Linux are), without binutils.
 *
 * @throws {SyntaxError} when the bytes are not such an ELF file or are truncated.
 */
export function parseElfDynamic(bytes: Uint8Array): ElfDynamic {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isElf = bytes.length >= 64 && bytes[0] === 0x7f && bytes[1] === 0x45 &&
    bytes[2] === 0x4c && bytes[3] === 0x46;
  // EI_CLASS 2 = 64-bit, EI_DATA 1 = little-endian.
  if (!isElf || bytes[4] !== 2 || bytes[5] !== 1) {
    throw new SyntaxError("Cannot parse ELF file: not a 64-bit little-endian ELF file");
  }
  try {
    const machine = view.getUint16(18, true);
    const phoff = Number(view.getBigUint64(32, true));
    const phentsize = view.getUint16(54, true);
    const phnum = view.getUint16(56, true);
    const loads: { vaddr: number; offset: number; filesz: number }[] = [];
    let dynamic: { offset: number; size: number } | undefined;
    let interpreter: string | null = null;
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      const type = view.getUint32(at, true);
      const offset = Number(view.getBigUint64(at + 8, true));
      const filesz = Number(view.getBigUint64(at + 32, true));
      if (type === PT_LOAD) {
        loads.push({ vaddr: Number(view.getBigUint64(at + 16, true)), offset, filesz });
      } else if (type === PT_DYNAMIC) {
        dynamic = { offset, size: filesz };
      } else if (type === PT_INTERP) {
        interpreter = cString(bytes, offset);
      }
    }
    const result: ElfDynamic = { machine, interpreter, needed: [], soname: null, runpath: [] };
    if (dynamic === undefined) return result;

    const entries: [bigint, bigint][] = [];
    for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
      const tag = view.getBigInt64(at, true);
      if (tag === DT_NULL) break;
      entries.push([tag, view.getBigUint64(at + 8, true)]);
    }
    const strtabAddress = entries.find(([tag]) => tag === DT_STRTAB)?.[1];
    if (strtabAddress === undefined) throw new SyntaxError("no DT_STRTAB");
    // DT_STRTAB is a virtual address: map it to a file offset through the PT_LOAD segments.
    const address = Number(strtabAddress);
    const segment = loads.find((load) =>
      address >= load.vaddr && address < load.vaddr + load.filesz
    );
    if (segment === undefined) throw new SyntaxError("DT_STRTAB outside every PT_LOAD segment");
    const strtab = address - segment.vaddr + segment.offset;
    let rpath: string[] = [];
    for (const [tag, value] of entries) {
      const text = () => cString(bytes, strtab + Number(value));
      if (tag === DT_NEEDED) result.needed.push(text());
      else if (tag === DT_SONAME) result.soname = text();
      else if (tag === DT_RUNPATH) result.runpath = text().split(":").filter(Boolean);
      else if (tag === DT_RPATH) rpath = text().split(":").filter(Boolean);
    }
    // The loader ignores DT_RPATH when DT_RUNPATH is present.
    if (result.runpath.length === 0) result.runpath = rpath;
    return result;
  } catch (error) {
    if (error instanceof RangeError || error instanceof SyntaxError) {
      throw new SyntaxError(`Cannot parse ELF file: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function cString(bytes: Uint8Array, offset: number): string {
  const end = bytes.indexOf(0, offset);
  if (end < 0) throw new RangeError("unterminated string");
  return new TextDecoder().decode(bytes.subarray(offset, end));
}
