const BLOCK = 512;
const encoder = new TextEncoder();

function writeField(header: Uint8Array, offset: number, length: number, value: string): void {
  header.set(encoder.encode(value).subarray(0, length), offset);
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, "0") + "\0";
}

/** Splits a path into ustar's `prefix` (≤155 bytes) and `name` (≤100 bytes), if it can. */
function splitUstar(path: string): { prefix: string; name: string } | undefined {
  if (encoder.encode(path).length <= 100) return { prefix: "", name: path };
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100) {
      return { prefix, name };
    }
  }
  return undefined;
}

function header(
  entry: { path: string; size: number; type: "0" | "x"; mtime: number },
): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const split = splitUstar(entry.path) ?? { prefix: "", name: entry.path.slice(-100) };
  writeField(block, 0, 100, split.name);
  writeField(block, 100, 8, octal(0o644, 8));
  writeField(block, 108, 8, octal(0, 8));
  writeField(block, 116, 8, octal(0, 8));
  // Sizes of 8 GiB and more do not fit 11 octal digits; the pax header carries them then.
  writeField(block, 124, 12, octal(entry.size < 8 ** 11 ? entry.size : 0, 12));
  writeField(block, 136, 12, octal(entry.mtime, 12));
  writeField(block, 148, 8, "        ");
  writeField(block, 156, 1, entry.type);
  writeField(block, 257, 6, "ustar\0");
  writeField(block, 263, 2, "00");
  writeField(block, 345, 155, split.prefix);
  const sum = block.reduce((total, byte) => total + byte, 0);
  writeField(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

function paxRecord(key: string, value: string): string {
  // "<length> <key>=<value>\n", where <length> counts its own digits too.
  const body = ` ${key}=${value}\n`;
  const n = encoder.encode(body).length;
  let length = n + String(n).length;
  if (String(length).length !== String(n).length) length = n + String(length).length;
  return `${length}${body}`;
}

/**
 * Writes a POSIX tar (ustar, with pax headers for long paths and files of 8 GiB or more)
 * that GNU and BSD tar extract. Files only; `tar -xf` creates their folders.
 */
export class TarWriter {
  readonly #file: Deno.FsFile;
  readonly #mtime = Math.floor(Date.now() / 1000);

  /** A writer onto an open file. */
  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /**
   * Adds a file of `content.size` bytes; `content.write` must pass exactly that many bytes to
   * the sink it is given.
   */
  async add(
    path: string,
    content: { size: number; write: (sink: (bytes: Uint8Array) => Promise<void>) => Promise<void> },
  ): Promise<void> {
    const { size } = content;
    if (splitUstar(path) === undefined || size >= 8 ** 11) {
      const records = (splitUstar(path) ? "" : paxRecord("path", path)) +
        (size >= 8 ** 11 ? paxRecord("size", String(size)) : "");
      const bytes = encoder.encode(records);
      await this.#write(header({ path: "PaxHeader", size: bytes.length, type: "x", mtime: 0 }));
      await this.#write(bytes);
      await this.#pad(bytes.length);
    }
    await this.#write(header({ path, size, type: "0", mtime: this.#mtime }));
    let written = 0;
    await content.write(async (bytes) => {
      written += bytes.length;
      await this.#write(bytes);
    });
    if (written !== size) {
      throw new RangeError(`Cannot add '${path}' to the tar: wrote ${written} of ${size} bytes`);
    }
    await this.#pad(size);
  }

  /** Writes the end-of-archive marker (two zero blocks). */
  async finish(): Promise<void> {
    await this.#write(new Uint8Array(BLOCK * 2));
  }

  async #pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest !== 0) await this.#write(new Uint8Array(BLOCK - rest));
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
  }
}
