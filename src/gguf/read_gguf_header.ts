/**
 * Reads and checks the header of a GGUF file.
 *
 * @module
 */

import { EndOfFile, FILE_TYPE_NAMES, FileCursor, GGML_TYPES } from "./_util.ts";
import { GgufError, type GgufErrorReason } from "./gguf_error.ts";

/** GGUF metadata value types; a type's index is its code in the file. */
export const GGUF_VALUE_TYPES = [
  "uint8",
  "int8",
  "uint16",
  "int16",
  "uint32",
  "int32",
  "float32",
  "bool",
  "string",
  "array",
  "uint64",
  "int64",
  "float64",
] as const;

/** A GGUF metadata value type. */
export type GgufValueType = typeof GGUF_VALUE_TYPES[number];

/** A metadata value that is not an array; 64-bit integers are `bigint`s. */
export type GgufScalar = number | bigint | boolean | string;

/** A metadata array. */
export interface GgufArray {
  /** Tells an array apart from a {@linkcode GgufScalar}. */
  readonly type: "array";
  /** The type every item has (GGUF arrays are homogeneous). */
  readonly itemType: GgufValueType;
  /** How many items the file declares, also when they were skipped. */
  readonly length: number;
  /**
   * The items, or `undefined` when the array was skipped for being longer than
   * `maxArrayLength` (or its strings not fitting in `maxMetadataBytes`).
   */
  readonly values: readonly GgufScalar[] | undefined;
}

/** A metadata value. */
export type GgufValue = GgufScalar | GgufArray;

/** What the header of a GGUF file says, once it has been checked. */
export interface GgufHeader {
  /** The file that was read. */
  readonly path: string;
  /** Its size in bytes. */
  readonly size: number;
  /** GGUF version: 2 or 3. */
  readonly version: number;
  /** Number of tensors. */
  readonly tensorCount: number;
  /** Number of metadata entries. */
  readonly metadataCount: number;
  /** `general.architecture`, e.g. "llama". */
  readonly architecture: string;
  /** `general.name`, if set. */
  readonly name: string | undefined;
  /** `<architecture>.context_length`: the context the model was trained for, if set. */
  readonly contextLength: number | undefined;
  /** `general.file_type` (llama.cpp's `llama_ftype`), if set. */
  readonly fileType: number | undefined;
  /** Name of the file type as llama-quantize spells it ("Q4_K_M", "F16"), if known. */
  readonly fileTypeName: string | undefined;
  /** Every metadata entry, in file order. */
  readonly metadata: ReadonlyMap<string, GgufValue>;
}

/** Options for {@linkcode readGgufHeader}. */
export interface ReadGgufHeaderOptions {
  /**
   * Arrays with more items are skipped, not kept (`values` is `undefined`): a tokenizer's
   * vocabulary has 30 000 to 250 000 strings.
   * @default {1024}
   */
  maxArrayLength?: number;
  /**
   * Bound on the strings and array items kept in memory; a single string beyond what is left
   * makes the file malformed, an array's strings beyond it make the array skipped.
   * @default {16777216}
   */
  maxMetadataBytes?: number;
  /** Stops reading. */
  signal?: AbortSignal;
}

const GGUF_MAGIC = "GGUF";
/** Bytes looked at to tell what a non-GGUF file is. */
const SNIFF_BYTES = 64;
/** Limits of llama.cpp's gguf.cpp (GGUF_MAX_STRING_LENGTH, GGUF_MAX_ARRAY_ELEMENTS). */
const MAX_STRING_BYTES = 2 ** 30;
const MAX_ARRAY_LENGTH = 2 ** 30;
/** More tensors or metadata entries than any model has: the counts are garbage. */
const MAX_COUNT = 2 ** 31;
/** GGML_MAX_NAME: tensor names are stored in 64-byte fields, NUL included. */
const MAX_TENSOR_NAME_BYTES = 63;
const MAX_DIMS = 4;
const DEFAULT_ALIGNMENT = 32;
const INT64_LIMIT = 2n ** 63n;
/** Sizes of the fixed-size value types, by code; 0 for string and array. */
const VALUE_SIZES = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];
const STRING = 8;
const ARRAY = 9;
/** Old pre-GGUF magics ("ggml", "ggmf", "ggjt"), as their little-endian uint32 lies on disk. */
const LEGACY_MAGICS = ["lmgg", "fmgg", "tjgg"];
/** How often long loops look at the abort signal. */
const SIGNAL_CHECK_EVERY = 4096;

const REMEDIES: Record<GgufErrorReason, string> = {
  "not-gguf": "point the model at a .gguf file, or fetch it again if it should be one",
  truncated: "the file is incomplete (an interrupted download or copy?): fetch it again",
  "unsupported-version":
    "fetch a GGUF version 3 file of the model (llama.cpp has written version 3 since 2023)",
  "big-endian": "fetch the little-endian GGUF file of the model",
  "unsupported-tensor-type":
    "the bundled llama.cpp cannot load it: choose another quantization of the model",
  malformed: "the file is corrupt: fetch it again",
};

function fail(path: string, reason: GgufErrorReason, problem: string, cause?: unknown): never {
  const options = cause === undefined ? { reason } : { reason, cause };
  throw new GgufError(path, `${problem}; ${REMEDIES[reason]}`, options);
}

function checkLimit(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot read GGUF header: '${name}' must be a non-negative integer, got ${value}`,
    );
  }
}

function padTo(n: bigint, alignment: bigint): bigint {
  return (n + alignment - 1n) / alignment * alignment;
}

function toNumber(value: GgufValue | undefined): number | undefined {
  if (typeof value === "bigint") {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= 0n ? Number(value) : undefined;
  }
  return typeof value === "number" && Number.isInteger(value) ? value : undefined;
}

/** Describes the start of a file that is not GGUF. */
function describeForeign(head: Uint8Array): string {
  const magic = new TextDecoder("latin1").decode(head.subarray(0, 4));
  if (LEGACY_MAGICS.includes(magic)) {
    return "it is a model in the old GGML/GGJT format, which llama.cpp no longer loads";
  }
  try {
    // `stream`: the sniffed bytes may end inside a character.
    const text = new TextDecoder("utf-8", { fatal: true }).decode(head, { stream: true });
    // deno-lint-ignore no-control-regex
    if (!/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) {
      const line = text.trimStart().split(/\r?\n/, 1)[0] ?? "";
      return `it is a text file starting with ${JSON.stringify(line.slice(0, 60))}`;
    }
  } catch (error) {
    // A fatal decoder throws TypeError on bytes that are not UTF-8: binary, described below.
    if (!(error instanceof TypeError)) throw error;
  }
  const hex = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  return `it does not start with "GGUF" (its first bytes are ${hex})`;
}

/** The state of one read: the cursor, the limits, and what is being read (for messages). */
class HeaderParser {
  readonly #path: string;
  readonly #cursor: FileCursor;
  readonly #maxArrayLength: number;
  readonly #signal: AbortSignal | undefined;
  #budget: number;
  /** What is being read, for the message when the file ends there. */
  what = "the magic";

  constructor(
    path: string,
    cursor: FileCursor,
    limits: Required<Omit<ReadGgufHeaderOptions, "signal">>,
    signal: AbortSignal | undefined,
  ) {
    this.#path = path;
    this.#cursor = cursor;
    this.#maxArrayLength = limits.maxArrayLength;
    this.#budget = limits.maxMetadataBytes;
    this.#signal = signal;
  }

  #fail(reason: GgufErrorReason, problem: string): never {
    fail(this.#path, reason, problem);
  }

  async #u32(): Promise<number> {
    await this.#cursor.need(4);
    return this.#cursor.u32();
  }

  async #u64(): Promise<bigint> {
    await this.#cursor.need(8);
    return this.#cursor.u64();
  }

  async #count(noun: string): Promise<number> {
    const count = await this.#u64();
    if (count >= MAX_COUNT) this.#fail("malformed", `its header claims ${count} ${noun}`);
    return Number(count);
  }

  /** Reads a string's length and checks it against llama.cpp's limit. */
  async #stringLength(): Promise<number> {
    const length = await this.#u64();
    if (length > MAX_STRING_BYTES) {
      this.#fail("malformed", `${this.what} is a string of ${length} bytes`);
    }
    return Number(length);
  }

  async #decode(length: number): Promise<string> {
    await this.#cursor.need(length);
    return new TextDecoder().decode(this.#cursor.bytes(length));
  }

  /** Reads a string that must be kept: it must fit in the budget. */
  async #keptString(): Promise<string> {
    const length = await this.#stringLength();
    if (length > this.#budget) {
      this.#fail(
        "malformed",
        `${this.what} is a string of ${length} bytes, more than the metadata limit of this reader`,
      );
    }
    this.#budget -= length;
    return await this.#decode(length);
  }

  async #fixed(type: number): Promise<GgufScalar> {
    const c = this.#cursor;
    await c.need(VALUE_SIZES[type] ?? 0);
    switch (type) {
      case 0:
        return c.u8();
      case 1:
        return c.i8();
      case 2:
        return c.u16();
      case 3:
        return c.i16();
      case 4:
        return c.u32();
      case 5:
        return c.i32();
      case 6:
        return c.f32();
      case 7:
        return c.u8() !== 0; // as llama.cpp reads it
      case 10:
        return c.u64();
      case 11:
        return c.i64();
      default:
        return c.f64();
    }
  }

  async #array(key: string): Promise<GgufArray> {
    const itemType = await this.#u32();
    const length = await this.#u64();
    const typeName = GGUF_VALUE_TYPES[itemType];
    if (typeName === undefined || itemType === ARRAY) {
      this.#fail("malformed", `metadata key '${key}' is an array of invalid type ${itemType}`);
    }
    if (length > MAX_ARRAY_LENGTH) {
      this.#fail("malformed", `metadata key '${key}' is an array of ${length} items`);
    }
    const n = Number(length);
    const c = this.#cursor;
    if (n > this.#maxArrayLength) {
      if (itemType !== STRING) {
        c.skip(n * (VALUE_SIZES[itemType] ?? 0));
      } else {
        for (let i = 0; i < n; i++) {
          if (i % SIGNAL_CHECK_EVERY === 0) this.#signal?.throwIfAborted();
          c.skip(await this.#stringLength());
        }
      }
      return { type: "array", itemType: typeName, length: n, values: undefined };
    }
    let values: GgufScalar[] | undefined = [];
    for (let i = 0; i < n; i++) {
      if (itemType === STRING) {
        const length = await this.#stringLength();
        if (values !== undefined && length <= this.#budget) {
          this.#budget -= length;
          values.push(await this.#decode(length));
        } else {
          values = undefined; // keep what is bounded: skip the rest
          c.skip(length);
        }
      } else {
        const value = await this.#fixed(itemType);
        if (values !== undefined && this.#budget >= 8) {
          this.#budget -= 8;
          values.push(value);
        } else {
          values = undefined;
        }
      }
    }
    return { type: "array", itemType: typeName, length: n, values };
  }

  async #magicAndVersion(): Promise<number> {
    const c = this.#cursor;
    if (c.size === 0) this.#fail("not-gguf", "the file is empty");
    const sniff = Math.min(c.size, SNIFF_BYTES);
    await c.need(sniff);
    const head = c.peek(sniff).slice();
    const magic = new TextDecoder("latin1").decode(head.subarray(0, 4));
    if (magic !== GGUF_MAGIC) {
      if (c.size < 4 && GGUF_MAGIC.startsWith(magic)) throw new EndOfFile();
      this.#fail("not-gguf", describeForeign(head));
    }
    if (head.length < 8) {
      this.what = "the version";
      throw new EndOfFile();
    }
    const version = new DataView(head.buffer).getUint32(4, true);
    const swapped = new DataView(head.buffer).getUint32(4, false);
    // Version 3 only added big-endian files: versions 2 and 3 read the same.
    if (version !== 2 && version !== 3) {
      if ((version & 0xffff) === 0 && swapped >= 1 && swapped <= 3) {
        // How llama.cpp tells a foreign byte order: a small version read backwards.
        this.#fail(
          "big-endian",
          `it is a big-endian GGUF file (version ${swapped}), which llama.cpp cannot load on ` +
            "little-endian machines such as x86_64 and aarch64",
        );
      }
      this.#fail(
        "unsupported-version",
        version === 1
          ? "it is GGUF version 1, which llama.cpp no longer loads"
          : `it is GGUF version ${version}; llama.cpp loads versions 2 and 3`,
      );
    }
    c.skip(8);
    return version;
  }

  async parse(): Promise<GgufHeader> {
    const c = this.#cursor;
    const version = await this.#magicAndVersion();
    this.what = "the header";
    const tensorCount = await this.#count("tensors");
    const metadataCount = await this.#count("metadata entries");

    const metadata = new Map<string, GgufValue>();
    let alignment = DEFAULT_ALIGNMENT;
    for (let i = 0; i < metadataCount; i++) {
      this.#signal?.throwIfAborted();
      this.what = `the key of metadata entry ${i + 1} of ${metadataCount}`;
      const key = await this.#keptString();
      if (key === "") this.#fail("malformed", `metadata entry ${i + 1} has an empty key`);
      if (metadata.has(key)) this.#fail("malformed", `metadata key '${key}' appears twice`);
      this.what = `the value of metadata key '${key}'`;
      const type = await this.#u32();
      let value: GgufValue;
      if (type === ARRAY) value = await this.#array(key);
      else if (type === STRING) value = await this.#keptString();
      else if (type < VALUE_SIZES.length) value = await this.#fixed(type);
      else this.#fail("malformed", `metadata key '${key}' has invalid type ${type}`);
      metadata.set(key, value);
      if (key === "general.alignment") {
        if (type !== 4) this.#fail("malformed", "'general.alignment' is not a uint32");
        alignment = value as number;
        if (alignment === 0 || (alignment & (alignment - 1)) !== 0) {
          this.#fail("malformed", `its alignment ${alignment} is not a power of 2`);
        }
      }
    }

    const dataEnd = await this.#tensorInfos(tensorCount, BigInt(alignment));
    if (tensorCount > 0) {
      const dataOffset = padTo(BigInt(c.position), BigInt(alignment));
      const required = dataOffset + dataEnd;
      if (required > BigInt(c.size)) {
        this.#fail(
          "truncated",
          `the file has ${c.size} bytes but its tensor data needs ${required}`,
        );
      }
    }

    const architecture = metadata.get("general.architecture");
    if (typeof architecture !== "string") {
      this.#fail("malformed", "it has no 'general.architecture', so it is not a model");
    }
    const name = metadata.get("general.name");
    const fileType = toNumber(metadata.get("general.file_type"));
    return {
      path: this.#path,
      size: c.size,
      version,
      tensorCount,
      metadataCount,
      architecture,
      name: typeof name === "string" ? name : undefined,
      contextLength: toNumber(metadata.get(`${architecture}.context_length`)),
      fileType,
      fileTypeName: fileType === undefined ? undefined : FILE_TYPE_NAMES.get(fileType),
      metadata,
    };
  }

  /**
   * Reads and checks the tensor infos as llama.cpp's gguf.cpp does; returns where the last
   * tensor's data ends, relative to the start of the data section.
   */
  async #tensorInfos(count: number, alignment: bigint): Promise<bigint> {
    const names = new Set<string>();
    let expectedOffset = 0n;
    let dataEnd = 0n;
    for (let i = 0; i < count; i++) {
      this.#signal?.throwIfAborted();
      this.what = `the name of tensor ${i + 1} of ${count}`;
      const nameLength = await this.#stringLength();
      if (nameLength > MAX_TENSOR_NAME_BYTES) {
        this.#fail("malformed", `the name of tensor ${i + 1} is ${nameLength} bytes long`);
      }
      const name = await this.#decode(nameLength);
      if (names.has(name)) this.#fail("malformed", `tensor '${name}' appears twice`);
      names.add(name);
      this.what = `the shape of tensor '${name}'`;
      const dims = await this.#u32();
      if (dims > MAX_DIMS) this.#fail("malformed", `tensor '${name}' has ${dims} dimensions`);
      const shape: bigint[] = [];
      for (let d = 0; d < dims; d++) shape.push(await this.#u64());
      const elements = shape.reduce((a, b) => a * b, 1n);
      if (shape.some((n) => n >= INT64_LIMIT) || elements >= INT64_LIMIT) {
        this.#fail("malformed", `tensor '${name}' has an impossible shape [${shape}]`);
      }
      this.what = `the type of tensor '${name}'`;
      const typeId = await this.#u32();
      const type = GGML_TYPES[typeId];
      if (type === undefined) {
        this.#fail(
          "unsupported-tensor-type",
          `tensor '${name}' has ggml type ${typeId}, which the bundled llama.cpp does not know`,
        );
      }
      if (type === null) {
        this.#fail(
          "unsupported-tensor-type",
          `tensor '${name}' has ggml type ${typeId}, which llama.cpp has removed from GGUF files`,
        );
      }
      const rowLength = shape[0] ?? 1n;
      const blockSize = BigInt(type.blockSize);
      if (rowLength % blockSize !== 0n) {
        this.#fail(
          "malformed",
          `tensor '${name}' of type ${type.name} has rows of ${rowLength} values, ` +
            `not a multiple of ${blockSize}`,
        );
      }
      const offset = await this.#u64();
      // llama.cpp requires the tensors to be packed in order, each padded to the alignment.
      if (offset !== expectedOffset) {
        this.#fail(
          "malformed",
          `tensor '${name}' starts at data offset ${offset} instead of ${expectedOffset}`,
        );
      }
      const bytes = elements / blockSize * BigInt(type.typeSize);
      dataEnd = offset + bytes;
      expectedOffset = padTo(dataEnd, alignment);
    }
    return dataEnd;
  }
}

/**
 * Reads the header of a GGUF file (v2 or v3, little-endian) and checks it the way llama.cpp
 * will: magic, version, metadata, tensor infos, and that the file is long enough for the
 * tensor data they describe. Reads incrementally, never the tensor data, and keeps only
 * bounded metadata (long arrays such as tokenizer vocabularies are skipped).
 *
 * @example
 * ```ts
 * const header = await readGgufHeader("/models/qwen2.5-0.5b-instruct-q4_k_m.gguf");
 * console.log(header.architecture, header.contextLength, header.fileTypeName);
 * ```
 *
 * @throws {GgufError} when the file is not a GGUF model llama.cpp can load; its `reason`
 * says why.
 * @throws {Deno.errors.NotFound} and other I/O errors from opening or reading the file.
 * @throws {RangeError} when an option is out of range.
 */
export async function readGgufHeader(
  path: string,
  options: ReadGgufHeaderOptions = {},
): Promise<GgufHeader> {
  const limits = {
    maxArrayLength: options.maxArrayLength ?? 1024,
    maxMetadataBytes: options.maxMetadataBytes ?? 16 * 1024 * 1024,
  };
  checkLimit("maxArrayLength", limits.maxArrayLength);
  checkLimit("maxMetadataBytes", limits.maxMetadataBytes);
  options.signal?.throwIfAborted();
  using file = await Deno.open(path, { read: true });
  const info = await file.stat();
  if (!info.isFile) fail(path, "not-gguf", "it is not a regular file");
  const cursor = new FileCursor(file, info.size);
  const parser = new HeaderParser(path, cursor, limits, options.signal);
  try {
    return await parser.parse();
  } catch (error) {
    if (error instanceof EndOfFile) {
      fail(path, "truncated", `the file ends after ${info.size} bytes, in ${parser.what}`, error);
    }
    throw error;
  }
}
