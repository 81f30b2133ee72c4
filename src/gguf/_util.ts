/**
 * Tables of ggml and llama.cpp constants, and a buffered cursor over a file.
 *
 * @module
 */

/** Block size and bytes per block of one ggml tensor type. */
export interface GgmlTypeInfo {
  readonly name: string;
  readonly blockSize: number;
  readonly typeSize: number;
}

/**
 * ggml tensor types by id, as `ggml_type_name`, `ggml_blck_size` and `ggml_type_size` of the
 * bundled llama.cpp (build 11669) report them; `null` marks ids that ggml has removed from
 * GGUF files (loading them fails). Ids past the end are unknown to that build.
 */
export const GGML_TYPES: readonly (GgmlTypeInfo | null)[] = ([
  ["f32", 1, 4],
  ["f16", 1, 2],
  ["q4_0", 32, 18],
  ["q4_1", 32, 20],
  null,
  null,
  ["q5_0", 32, 22],
  ["q5_1", 32, 24],
  ["q8_0", 32, 34],
  ["q8_1", 32, 36],
  ["q2_K", 256, 84],
  ["q3_K", 256, 110],
  ["q4_K", 256, 144],
  ["q5_K", 256, 176],
  ["q6_K", 256, 210],
  ["q8_K", 256, 292],
  ["iq2_xxs", 256, 66],
  ["iq2_xs", 256, 74],
  ["iq3_xxs", 256, 98],
  ["iq1_s", 256, 50],
  ["iq4_nl", 32, 18],
  ["iq3_s", 256, 110],
  ["iq2_s", 256, 82],
  ["iq4_xs", 256, 136],
  ["i8", 1, 1],
  ["i16", 1, 2],
  ["i32", 1, 4],
  ["i64", 1, 8],
  ["f64", 1, 8],
  ["iq1_m", 256, 56],
  ["bf16", 1, 2],
  null,
  null,
  null,
  ["tq1_0", 256, 54],
  ["tq2_0", 256, 66],
  null,
  null,
  null,
  ["mxfp4", 32, 17],
  ["nvfp4", 64, 36],
  ["q1_0", 128, 18],
  ["q2_0", 64, 18],
] satisfies ([string, number, number] | null)[]).map((t) =>
  t === null ? null : { name: t[0], blockSize: t[1], typeSize: t[2] }
);

/**
 * Names of llama.cpp's `llama_ftype` values (`general.file_type`), spelled as llama-quantize
 * and model file names spell them.
 */
export const FILE_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, "F32"],
  [1, "F16"],
  [2, "Q4_0"],
  [3, "Q4_1"],
  [4, "Q4_1_SOME_F16"],
  [7, "Q8_0"],
  [8, "Q5_0"],
  [9, "Q5_1"],
  [10, "Q2_K"],
  [11, "Q3_K_S"],
  [12, "Q3_K_M"],
  [13, "Q3_K_L"],
  [14, "Q4_K_S"],
  [15, "Q4_K_M"],
  [16, "Q5_K_S"],
  [17, "Q5_K_M"],
  [18, "Q6_K"],
  [19, "IQ2_XXS"],
  [20, "IQ2_XS"],
  [21, "Q2_K_S"],
  [22, "IQ3_XS"],
  [23, "IQ3_XXS"],
  [24, "IQ1_S"],
  [25, "IQ4_NL"],
  [26, "IQ3_S"],
  [27, "IQ3_M"],
  [28, "IQ2_S"],
  [29, "IQ2_M"],
  [30, "IQ4_XS"],
  [31, "IQ1_M"],
  [32, "BF16"],
  [36, "TQ1_0"],
  [37, "TQ2_0"],
  [38, "MXFP4_MOE"],
  [39, "NVFP4"],
  [40, "Q1_0"],
  [41, "Q2_0"],
]);

/** Reading the file this cursor was opened on would need bytes past its end. */
export class EndOfFile extends Error {
  override name = "EndOfFile";
}

/** How much to read ahead at a time: metadata is mostly many small values. */
const CHUNK_BYTES = 64 * 1024;

/**
 * Sequential little-endian reads over a file of known size, through a read-ahead buffer.
 * `need(n)` must precede the synchronous getters that consume those `n` bytes.
 */
export class FileCursor {
  readonly #file: Deno.FsFile;
  readonly size: number;
  #buf = new Uint8Array(CHUNK_BYTES);
  #view = new DataView(this.#buf.buffer);
  /** File offset of `#buf[0]`. */
  #bufStart = 0;
  #bufLength = 0;
  #pos = 0;

  constructor(file: Deno.FsFile, size: number) {
    this.#file = file;
    this.size = size;
  }

  /** File offset of the next byte to read. */
  get position(): number {
    return this.#pos;
  }

  /**
   * Makes the next `n` bytes available to the getters.
   * @throws {EndOfFile} when the file has fewer than `n` bytes left
   */
  need(n: number): Promise<void> | undefined {
    if (this.#pos + n > this.size) throw new EndOfFile();
    if (this.#pos + n <= this.#bufStart + this.#bufLength) return undefined;
    return this.#fill(n);
  }

  async #fill(n: number): Promise<void> {
    if (n > this.#buf.length) {
      this.#buf = new Uint8Array(n);
      this.#view = new DataView(this.#buf.buffer);
    }
    const want = Math.min(this.#buf.length, this.size - this.#pos);
    await this.#file.seek(this.#pos, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < n) {
      const read = await this.#file.read(this.#buf.subarray(filled, want));
      if (read === null) throw new EndOfFile(); // the file shrank while we read it
      filled += read;
    }
    this.#bufStart = this.#pos;
    this.#bufLength = filled;
  }

  /**
   * Moves `n` bytes forward without reading them.
   * @throws {EndOfFile} when the file has fewer than `n` bytes left
   */
  skip(n: number): void {
    if (this.#pos + n > this.size) throw new EndOfFile();
    this.#pos += n;
  }

  #take(n: number): number {
    const at = this.#pos - this.#bufStart;
    this.#pos += n;
    return at;
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }
  i8(): number {
    return this.#view.getInt8(this.#take(1));
  }
  u16(): number {
    return this.#view.getUint16(this.#take(2), true);
  }
  i16(): number {
    return this.#view.getInt16(this.#take(2), true);
  }
  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }
  i32(): number {
    return this.#view.getInt32(this.#take(4), true);
  }
  u64(): bigint {
    return this.#view.getBigUint64(this.#take(8), true);
  }
  i64(): bigint {
    return this.#view.getBigInt64(this.#take(8), true);
  }
  f32(): number {
    return this.#view.getFloat32(this.#take(4), true);
  }
  f64(): number {
    return this.#view.getFloat64(this.#take(8), true);
  }
  /** The next `n` bytes without moving past them, as a view the next `need` may overwrite. */
  peek(n: number): Uint8Array {
    const at = this.#pos - this.#bufStart;
    return this.#buf.subarray(at, at + n);
  }
  /** The next `n` bytes, as a view that the next `need` may overwrite. */
  bytes(n: number): Uint8Array {
    const at = this.#take(n);
    return this.#buf.subarray(at, at + n);
  }
}
