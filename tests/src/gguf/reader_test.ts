import assert from "node:assert/strict";
import { GgufError, type GgufErrorReason, readGgufHeader } from "../../../src/gguf/mod.ts";
import { encodeGguf, type GgufWriterValue } from "../../_util/gguf_writer.ts";
import { tinyModelBytes, type TinyModelOptions } from "../../_util/tiny_model.ts";

const MESSAGE = /^Cannot read GGUF file '[^']+': [^;]+; .+$/;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gguf_reader_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeFile(dir: string, name: string, bytes: Uint8Array): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, bytes);
  return path;
}

async function refusal(path: string, reason: GgufErrorReason): Promise<GgufError> {
  const error = await readGgufHeader(path).then(
    () => assert.fail(`'${path}' was read, expected a '${reason}' refusal`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof GgufError, `expected a GgufError, got ${error}`);
  assert.equal(error.name, "GgufError");
  assert.equal(error.reason, reason, error.message);
  assert.equal(error.path, path);
  assert.match(error.message, MESSAGE);
  return error;
}

function indexOf(bytes: Uint8Array, text: string): number {
  const needle = new TextEncoder().encode(text);
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (bytes[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  throw new Error(`'${text}' is not in the file`);
}

/** Offset of the type field in the tensor info of a 2-dimensional tensor. */
function tensorTypeOffset(bytes: Uint8Array, name: string): number {
  return indexOf(bytes, name) + name.length + 4 + 2 * 8;
}

const str = (value: string): GgufWriterValue => ({ type: "string", value });

Deno.test("readGgufHeader returns what the header of a valid model says", async () => {
  await withTempDir(async (dir) => {
    const options: TinyModelOptions = { name: "unit", contextLength: 256, tensorType: "f16" };
    const path = await writeFile(dir, "m.gguf", tinyModelBytes(options));
    const header = await readGgufHeader(path);
    assert.equal(header.path, path);
    assert.equal(header.size, (await Deno.stat(path)).size);
    assert.equal(header.version, 3);
    assert.equal(header.tensorCount, 12);
    assert.equal(header.metadataCount, header.metadata.size);
    assert.equal(header.architecture, "llama");
    assert.equal(header.name, "unit");
    assert.equal(header.contextLength, 256);
    assert.equal(header.fileType, 1);
    assert.equal(header.fileTypeName, "F16");
    assert.equal(header.metadata.get("tokenizer.ggml.model"), "gpt2");
    const tokens = header.metadata.get("tokenizer.ggml.tokens");
    assert.ok(typeof tokens === "object");
    assert.equal(tokens.length, 258);
    assert.equal(tokens.values?.[32], "Ġ");
  });
});

Deno.test("readGgufHeader reads metadata values of every GGUF type, in v2 and v3 files", async () => {
  await withTempDir(async (dir) => {
    const metadata: [string, GgufWriterValue][] = [
      ["general.architecture", str("test")],
      ["u8", { type: "uint8", value: 200 }],
      ["i8", { type: "int8", value: -5 }],
      ["u16", { type: "uint16", value: 60000 }],
      ["i16", { type: "int16", value: -300 }],
      ["u32", { type: "uint32", value: 4_000_000_000 }],
      ["i32", { type: "int32", value: -2_000_000_000 }],
      ["f32", { type: "float32", value: 1.5 }],
      ["bool", { type: "bool", value: true }],
      ["string", str("héllo 🙂")],
      ["u64", { type: "uint64", value: 2n ** 40n }],
      ["i64", { type: "int64", value: -3n }],
      ["f64", { type: "float64", value: 0.1 }],
      ["ints", { type: "array", itemType: "int32", values: [1, -2, 3] }],
      ["strings", { type: "array", itemType: "string", values: ["a", "", "c"] }],
      ["test.context_length", { type: "uint64", value: 4096n }],
    ];
    for (const version of [2, 3]) {
      const path = await writeFile(dir, `v${version}.gguf`, encodeGguf(metadata, [], { version }));
      const header = await readGgufHeader(path);
      assert.equal(header.version, version);
      assert.equal(header.tensorCount, 0);
      assert.deepEqual([...header.metadata], [
        ["general.architecture", "test"],
        ["u8", 200],
        ["i8", -5],
        ["u16", 60000],
        ["i16", -300],
        ["u32", 4_000_000_000],
        ["i32", -2_000_000_000],
        ["f32", 1.5],
        ["bool", true],
        ["string", "héllo 🙂"],
        ["u64", 2n ** 40n],
        ["i64", -3n],
        ["f64", 0.1],
        ["ints", { type: "array", itemType: "int32", length: 3, values: [1, -2, 3] }],
        ["strings", { type: "array", itemType: "string", length: 3, values: ["a", "", "c"] }],
        ["test.context_length", 4096n],
      ]);
      assert.equal(header.contextLength, 4096);
      assert.equal(header.name, undefined);
      assert.equal(header.fileType, undefined);
      assert.equal(header.fileTypeName, undefined);
    }
  });
});

Deno.test("readGgufHeader refuses files that are not GGUF, saying what they are", async () => {
  await withTempDir(async (dir) => {
    const cases: [string, Uint8Array | null, RegExp][] = [
      ["empty", new Uint8Array(), /the file is empty/],
      ["bad-magic", tinyModelBytes({ defect: "bad-magic" }), /does not start with "GGUF"/],
      [
        "lfs-pointer",
        new TextEncoder().encode(
          "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1234\n",
        ),
        /text file starting with "version https:\/\/git-lfs.github.com\/spec\/v1"/,
      ],
      [
        "html",
        new TextEncoder().encode("\n<!DOCTYPE html><html><body>Not found</body></html>"),
        /text file starting with "<!DOCTYPE html>/,
      ],
      ["elf", new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]), /bytes are 7f 45 4c 46/],
      ["ggjt", new TextEncoder().encode("tjgg\x03\x00\x00\x00rest"), /old GGML\/GGJT format/],
      ["directory", null, /not a regular file/],
    ];
    for (const [name, bytes, problem] of cases) {
      let path = `${dir}/${name}`;
      if (bytes === null) await Deno.mkdir(path);
      else path = await writeFile(dir, name, bytes);
      const error = await refusal(path, "not-gguf");
      assert.match(error.message, problem);
    }
  });
});

Deno.test("readGgufHeader reports a file cut short in its header, metadata, tensor infos or data", async () => {
  await withTempDir(async (dir) => {
    const whole = tinyModelBytes();
    const inTokens = indexOf(whole, "tokenizer.ggml.tokens") + 40;
    const inTensorInfos = indexOf(whole, "output_norm.weight") + 4;
    const cases: [number, RegExp][] = [
      [2, /ends after 2 bytes, in the magic/],
      [6, /ends after 6 bytes, in the version/],
      [20, /ends after 20 bytes, in the header/],
      [inTokens, /in the value of metadata key 'tokenizer\.ggml\.tokens'/],
      [inTensorInfos, /in the name of tensor 11 of 12/],
      [whole.length - 1000, /has \d+ bytes but its tensor data needs \d+/],
    ];
    for (const [length, problem] of cases) {
      const path = await writeFile(dir, `cut_${length}.gguf`, whole.slice(0, length));
      const error = await refusal(path, "truncated");
      assert.match(error.message, problem);
      assert.match(error.message, /incomplete/);
    }
    const truncated = await writeFile(dir, "t.gguf", tinyModelBytes({ defect: "truncated" }));
    await refusal(truncated, "truncated");
  });
});

Deno.test("readGgufHeader refuses GGUF versions other than 2 and 3", async () => {
  await withTempDir(async (dir) => {
    const v4 = await writeFile(dir, "v4.gguf", tinyModelBytes({ defect: "unsupported-version" }));
    assert.match((await refusal(v4, "unsupported-version")).message, /version 4; llama\.cpp/);
    const meta: [string, GgufWriterValue][] = [["general.architecture", str("llama")]];
    for (const [version, problem] of [[1, /version 1, which/], [0, /version 0;/]] as const) {
      const path = await writeFile(dir, `v${version}.gguf`, encodeGguf(meta, [], { version }));
      assert.match((await refusal(path, "unsupported-version")).message, problem);
    }
  });
});

Deno.test("readGgufHeader says when a file is big-endian", async () => {
  await withTempDir(async (dir) => {
    const path = await writeFile(dir, "be.gguf", tinyModelBytes({ defect: "big-endian" }));
    assert.match((await refusal(path, "big-endian")).message, /big-endian GGUF file \(version 3\)/);
  });
});

Deno.test("readGgufHeader refuses files that break the rules llama.cpp enforces", async () => {
  await withTempDir(async (dir) => {
    const arch: [string, GgufWriterValue] = ["general.architecture", str("llama")];
    const metadataCases: [string, [string, GgufWriterValue][], RegExp][] = [
      ["no-arch", [["general.name", str("x")]], /no 'general\.architecture'/],
      ["duplicate", [arch, arch], /'general\.architecture' appears twice/],
      ["empty-key", [arch, ["", str("x")]], /entry 2 has an empty key/],
      [
        "alignment-type",
        [arch, ["general.alignment", { type: "uint64", value: 32n }]],
        /'general\.alignment' is not a uint32/,
      ],
      [
        "alignment-value",
        [arch, ["general.alignment", { type: "uint32", value: 24 }]],
        /alignment 24 is not a power of 2/,
      ],
    ];
    for (const [name, metadata, problem] of metadataCases) {
      const path = await writeFile(dir, `${name}.gguf`, encodeGguf(metadata, []));
      assert.match((await refusal(path, "malformed")).message, problem);
    }

    const model = tinyModelBytes();
    const view = new DataView(model.buffer);
    const patched = async (name: string, patch: (bytes: DataView) => void) => {
      const copy = new DataView(model.slice().buffer);
      patch(copy);
      return await writeFile(dir, name, new Uint8Array(copy.buffer));
    };
    // A value type code that does not exist: the u32 after the first key.
    const firstValueType = 24 + 8 + "general.architecture".length;
    assert.equal(view.getUint32(firstValueType, true), 8);
    const badType = await patched("bad-type.gguf", (b) => b.setUint32(firstValueType, 13, true));
    assert.match((await refusal(badType, "malformed")).message, /invalid type 13/);

    const typeAt = tensorTypeOffset(model, "token_embd.weight");
    assert.equal(view.getUint32(typeAt, true), 0);
    const offsetAt = typeAt + 4;
    const moved = await patched("offset.gguf", (b) => b.setBigUint64(offsetAt, 64n, true));
    assert.match(
      (await refusal(moved, "malformed")).message,
      /tensor 'token_embd\.weight' starts at data offset 64 instead of 0/,
    );
    const q4k = await patched("q4k.gguf", (b) => b.setUint32(typeAt, 12, true));
    assert.match(
      (await refusal(q4k, "malformed")).message,
      /tensor 'token_embd\.weight' of type q4_K has rows of 32 values, not a multiple of 256/,
    );
    const unknown = await patched("type99.gguf", (b) => b.setUint32(typeAt, 99, true));
    assert.match(
      (await refusal(unknown, "unsupported-tensor-type")).message,
      /ggml type 99, which the bundled llama\.cpp does not know/,
    );
    const removed = await patched("type31.gguf", (b) => b.setUint32(typeAt, 31, true));
    assert.match(
      (await refusal(removed, "unsupported-tensor-type")).message,
      /ggml type 31, which llama\.cpp has removed/,
    );
  });
});

Deno.test("readGgufHeader skips long arrays and keeps metadata within its bounds", async () => {
  await withTempDir(async (dir) => {
    const n = 200_000;
    const tokens = Array.from({ length: n }, (_, i) => `token${i}`);
    const path = await writeFile(
      dir,
      "vocab.gguf",
      encodeGguf([
        ["general.architecture", str("llama")],
        ["tokenizer.ggml.tokens", { type: "array", itemType: "string", values: tokens }],
        ["tokenizer.ggml.scores", {
          type: "array",
          itemType: "float32",
          values: tokens.map(() => 0),
        }],
        ["three", { type: "array", itemType: "uint8", values: [1, 2, 3] }],
        ["general.name", str("after the arrays")],
      ], []),
    );
    const header = await readGgufHeader(path);
    assert.deepEqual(header.metadata.get("tokenizer.ggml.tokens"), {
      type: "array",
      itemType: "string",
      length: n,
      values: undefined,
    });
    assert.deepEqual(header.metadata.get("tokenizer.ggml.scores"), {
      type: "array",
      itemType: "float32",
      length: n,
      values: undefined,
    });
    assert.equal(header.name, "after the arrays");

    const short = await readGgufHeader(path, { maxArrayLength: 2 });
    assert.deepEqual(short.metadata.get("three"), {
      type: "array",
      itemType: "uint8",
      length: 3,
      values: undefined,
    });
    assert.equal(short.name, "after the arrays");

    const big = await writeFile(
      dir,
      "big-string.gguf",
      encodeGguf([["general.architecture", str("llama")], ["x", str("y".repeat(1000))]], []),
    );
    assert.equal((await readGgufHeader(big)).metadata.get("x"), "y".repeat(1000));
    const error = await readGgufHeader(big, { maxMetadataBytes: 500 }).then(
      () => assert.fail("read beyond its bounds"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof GgufError);
    assert.equal(error.reason, "malformed");
    assert.match(error.message, /value of metadata key 'x' is a string of 1000 bytes/);

    await assert.rejects(readGgufHeader(path, { maxArrayLength: -1 }), RangeError);
  });
});

Deno.test("readGgufHeader stops when its signal is aborted", async () => {
  await withTempDir(async (dir) => {
    const path = await writeFile(dir, "m.gguf", tinyModelBytes());
    await assert.rejects(
      readGgufHeader(path, { signal: AbortSignal.abort() }),
      (e: unknown) => e instanceof DOMException && e.name === "AbortError",
    );
  });
});

Deno.test("readGgufHeader lets a missing file's NotFound through", async () => {
  await assert.rejects(readGgufHeader("/nonexistent/model.gguf"), Deno.errors.NotFound);
});
