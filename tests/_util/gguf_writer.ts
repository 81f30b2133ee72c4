/**
 * A small GGUF (v2/v3, little-endian) encoder for tests: metadata and F32/F16 tensors, laid
 * out the way llama.cpp's `gguf.cpp` requires (tensor data contiguous, in order, each tensor
 * padded to the alignment).
 *
 * @module
 */

import { GGUF_VALUE_TYPES, type GgufValueType } from "../../src/gguf/mod.ts";

/** The default `general.alignment` of GGUF files. */
const DEFAULT_ALIGNMENT = 32;

/** A metadata value to write, tagged with its GGUF type. */
export type GgufWriterValue =
  | {
    type: "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
    value: number;
  }
  | { type: "uint64" | "int64"; value: bigint }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | {
    type: "array";
    itemType: Exclude<GgufValueType, "array">;
    values: readonly (number | bigint | boolean | string)[];
  };

/** A tensor to write; `shape` is in ggml order (`ne0`, the row length, first). */
export interface GgufTensorSpec {
  name: string;
  type: "f32" | "f16";
  shape: readonly number[];
  data: Float32Array;
}

/** Options for {@linkcode encodeGguf}. */
export interface EncodeGgufOptions {
  /**
   * The version number written after the magic; anything but 2 or 3 makes a file that
   * readers must refuse.
   * @default {3}
   */
  version?: number;
}

/** Writes into a growing buffer, little-endian. */
class ByteSink {
  #buf = new Uint8Array(64 * 1024);
  #view = new DataView(this.#buf.buffer);
  #len = 0;
  readonly #encoder = new TextEncoder();

  get length(): number {
    return this.#len;
  }

  #reserve(n: number): number {
    const at = this.#len;
    if (at + n > this.#buf.length) {
      let size = this.#buf.length * 2;
      while (at + n > size) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(0, at));
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    this.#len += n;
    return at;
  }

  u8(v: number): void {
    const at = this.#reserve(1);
    this.#view.setUint8(at, v);
  }
  i8(v: number): void {
    const at = this.#reserve(1);
    this.#view.setInt8(at, v);
  }
  u16(v: number): void {
    const at = this.#reserve(2);
    this.#view.setUint16(at, v, true);
  }
  i16(v: number): void {
    const at = this.#reserve(2);
    this.#view.setInt16(at, v, true);
  }
  u32(v: number): void {
    const at = this.#reserve(4);
    this.#view.setUint32(at, v, true);
  }
  i32(v: number): void {
    const at = this.#reserve(4);
    this.#view.setInt32(at, v, true);
  }
  f32(v: number): void {
    const at = this.#reserve(4);
    this.#view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.#reserve(8);
    this.#view.setFloat64(at, v, true);
  }
  f16(v: number): void {
    const at = this.#reserve(2);
    this.#view.setFloat16(at, v, true);
  }
  u64(v: bigint): void {
    const at = this.#reserve(8);
    this.#view.setBigUint64(at, v, true);
  }
  i64(v: bigint): void {
    const at = this.#reserve(8);
    this.#view.setBigInt64(at, v, true);
  }
  bytes(b: Uint8Array): void {
    const at = this.#reserve(b.length);
    this.#buf.set(b, at);
  }
  string(s: string): void {
    const b = this.#encoder.encode(s);
    this.u64(BigInt(b.length));
    this.bytes(b);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.#len % alignment)) % alignment;
    this.#reserve(pad); // new space is zero-filled
  }
  result(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

function typeCode(type: GgufValueType): number {
  return GGUF_VALUE_TYPES.indexOf(type);
}

function writeScalar(
  sink: ByteSink,
  type: Exclude<GgufValueType, "array">,
  value: number | bigint | boolean | string,
): void {
  const wrong = () => new TypeError(`Cannot encode GGUF value: ${String(value)} is not a ${type}`);
  if (type === "string") {
    if (typeof value !== "string") throw wrong();
    sink.string(value);
  } else if (type === "bool") {
    if (typeof value !== "boolean") throw wrong();
    sink.u8(value ? 1 : 0);
  } else if (type === "uint64" || type === "int64") {
    if (typeof value !== "bigint") throw wrong();
    if (type === "uint64") sink.u64(value);
    else sink.i64(value);
  } else {
    if (typeof value !== "number") throw wrong();
    switch (type) {
      case "uint8":
        return sink.u8(value);
      case "int8":
        return sink.i8(value);
      case "uint16":
        return sink.u16(value);
      case "int16":
        return sink.i16(value);
      case "uint32":
        return sink.u32(value);
      case "int32":
        return sink.i32(value);
      case "float32":
        return sink.f32(value);
      case "float64":
        return sink.f64(value);
    }
  }
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Encodes a GGUF file. The alignment is `general.alignment` when the metadata has it
 * (as a uint32), else 32.
 *
 * @example
 * ```ts
 * const bytes = encodeGguf([["general.architecture", { type: "string", value: "llama" }]], []);
 * ```
 */
export function encodeGguf(
  metadata: ReadonlyArray<readonly [string, GgufWriterValue]>,
  tensors: readonly GgufTensorSpec[],
  options: EncodeGgufOptions = {},
): Uint8Array {
  const alignEntry = metadata.find(([key]) => key === "general.alignment")?.[1];
  const alignment = alignEntry?.type === "uint32" ? alignEntry.value : DEFAULT_ALIGNMENT;
  const sink = new ByteSink();
  sink.bytes(new TextEncoder().encode("GGUF"));
  sink.u32(options.version ?? 3);
  sink.u64(BigInt(tensors.length));
  sink.u64(BigInt(metadata.length));
  for (const [key, entry] of metadata) {
    sink.string(key);
    sink.u32(typeCode(entry.type));
    if (entry.type === "array") {
      sink.u32(typeCode(entry.itemType));
      sink.u64(BigInt(entry.values.length));
      for (const v of entry.values) writeScalar(sink, entry.itemType, v);
    } else {
      writeScalar(sink, entry.type, entry.value);
    }
  }
  let offset = 0;
  for (const t of tensors) {
    if (t.data.length !== elementCount(t.shape)) {
      throw new RangeError(
        `Cannot encode tensor '${t.name}': shape [${t.shape}] needs ${
          elementCount(t.shape)
        } values, got ${t.data.length}`,
      );
    }
    sink.string(t.name);
    sink.u32(t.shape.length);
    for (const d of t.shape) sink.u64(BigInt(d));
    sink.u32(t.type === "f32" ? 0 : 1);
    sink.u64(BigInt(offset));
    const bytes = t.data.length * (t.type === "f32" ? 4 : 2);
    offset += Math.ceil(bytes / alignment) * alignment;
  }
  if (tensors.length > 0) sink.padTo(alignment);
  for (const t of tensors) {
    if (t.type === "f32") {
      for (const v of t.data) sink.f32(v);
    } else {
      for (const v of t.data) sink.f16(v);
    }
    sink.padTo(alignment);
  }
  return sink.result();
}
