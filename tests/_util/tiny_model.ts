/**
 * Tiny random llama models that the real llama.cpp loads and runs, for tests.
 *
 * The vocabulary is byte-level ("gpt2" BPE with the 256 byte tokens, no merges) plus `<s>`
 * and `</s>`, so any text tokenizes. The weights are random (deterministic per seed) except
 * for one residual-stream dimension that no layer writes to: it carries a constant, and the
 * output matrix uses it as a bias that makes printable ASCII (0x20-0x7E) overwhelmingly
 * likely and everything else, end-of-sequence included, practically impossible. So the
 * model writes printable text (valid UTF-8, no newlines) and always generates exactly the
 * number of tokens asked for, whatever the sampler settings.
 *
 * Broken files for error paths: the `defect` option, or slice and patch the bytes of
 * {@linkcode tinyModelBytes} yourself (as `tests/src/gguf/reader_test.ts` does).
 *
 * @module
 */

import { encodeGguf, type GgufTensorSpec, type GgufWriterValue } from "./gguf_writer.ts";

/** A way to break the file, for tests of readers and error paths. */
export type TinyModelDefect =
  | "truncated"
  | "bad-magic"
  | "unsupported-version"
  | "big-endian";

/** Options for {@linkcode tinyModelBytes} and {@linkcode writeTinyModel}. */
export interface TinyModelOptions {
  /** Seed of the weights; the same options give the same bytes. @default {1} */
  seed?: number;
  /** `general.name`. @default {"tiny-llama"} */
  name?: string;
  /** `llama.context_length`, the context llama.cpp uses unless told otherwise. @default {512} */
  contextLength?: number;
  /** `llama.embedding_length`; a multiple of `heads`, with an even head size. @default {32} */
  embeddingLength?: number;
  /** `llama.block_count`. @default {1} */
  layers?: number;
  /** `llama.attention.head_count`. @default {2} */
  heads?: number;
  /** `llama.attention.head_count_kv`; divides `heads`. @default {heads} */
  kvHeads?: number;
  /** `llama.feed_forward_length`. @default {64} */
  feedForwardLength?: number;
  /**
   * Vocabulary size: tokens past the 256 bytes, `<s>` and `</s>` are padding ("<extra_N>")
   * that the model never generates; raise it for a bigger file with a realistic vocabulary.
   * @default {258}
   */
  vocabularySize?: number;
  /** Storage type of the matrices (norms stay F32, as llama.cpp writes them). @default {"f32"} */
  tensorType?: "f32" | "f16";
  /**
   * `tokenizer.chat_template`. Without one, llama-server and llama-cli fall back to chatml and
   * llama-completion does not start a conversation. With one, llama-completion needs `-no-cnv`:
   * it otherwise starts a conversation, and aborts (exit 134) on a template outside its
   * built-in list unless given `--jinja`.
   * @default {undefined}
   */
  chatTemplate?: string;
  /** Break the file this way. @default {undefined} */
  defect?: TinyModelDefect;
}

type Dimension =
  | "contextLength"
  | "embeddingLength"
  | "layers"
  | "heads"
  | "kvHeads"
  | "feedForwardLength"
  | "vocabularySize";

const BOS_ID = 256;
const EOS_ID = 257;
/** The residual dimension kept constant, used as the output bias (see module doc). */
const BIAS_DIM = 0;
/** Value of the bias dimension in every token embedding; large against the ~U(-1,1) rest. */
const BIAS_EMBEDDING = 4;
/** Output weight on the bias dimension: + for printable tokens, - for the rest. */
const BIAS_OUTPUT = 4;

/** GPT-2's byte-to-unicode table: printable bytes stand for themselves, others move up. */
function byteTokens(): string[] {
  const tokens: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    tokens.push(String.fromCodePoint(printable ? b : next++));
  }
  return tokens;
}

/** mulberry32: a tiny, fast, seedable generator; uniform in [-1, 1). */
function random(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  };
}

function checkDims(o: Record<Exclude<Dimension, "vocabularySize">, number>) {
  for (const [key, value] of Object.entries(o)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`Cannot build tiny model: '${key}' must be a positive integer`);
    }
  }
  const headSize = o.embeddingLength / o.heads;
  if (!Number.isInteger(headSize) || headSize % 2 !== 0 || o.heads % o.kvHeads !== 0) {
    throw new RangeError(
      "Cannot build tiny model: 'embeddingLength' must be a multiple of 'heads' with an even " +
        "head size, and 'kvHeads' must divide 'heads'",
    );
  }
}

/**
 * Builds the GGUF bytes of a tiny random llama model.
 *
 * @example
 * ```ts
 * const bytes = tinyModelBytes({ seed: 7 });
 * ```
 */
export function tinyModelBytes(options: TinyModelOptions = {}): Uint8Array {
  const heads = options.heads ?? 2;
  const o = {
    contextLength: options.contextLength ?? 512,
    embeddingLength: options.embeddingLength ?? 32,
    layers: options.layers ?? 1,
    heads,
    kvHeads: options.kvHeads ?? heads,
    feedForwardLength: options.feedForwardLength ?? 64,
  };
  checkDims(o);
  const tensorType = options.tensorType ?? "f32";
  const rand = random(options.seed ?? 1);
  const nEmbd = o.embeddingLength;
  const headSize = nEmbd / o.heads;
  const nEmbdKv = headSize * o.kvHeads;
  const tokens = [...byteTokens(), "<s>", "</s>"];
  const nVocab = options.vocabularySize ?? tokens.length;
  if (!Number.isInteger(nVocab) || nVocab < tokens.length) {
    throw new RangeError(
      `Cannot build tiny model: 'vocabularySize' must be at least ${tokens.length}`,
    );
  }
  for (let i = tokens.length; i < nVocab; i++) tokens.push(`<extra_${i}>`);

  // A [cols, rows] matrix (ggml order) of uniform values scaled by `scale`.
  const matrix = (cols: number, rows: number, scale: number) => {
    const data = new Float32Array(cols * rows);
    for (let i = 0; i < data.length; i++) data[i] = rand() * scale;
    return data;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  // Layers write nothing to the bias dimension: zero that output row.
  const noBiasRow = (data: Float32Array, cols: number) => {
    data.fill(0, BIAS_DIM * cols, (BIAS_DIM + 1) * cols);
    return data;
  };
  const tensors: GgufTensorSpec[] = [];
  const add = (name: string, shape: number[], data: Float32Array, norm = false) =>
    tensors.push({ name, type: norm ? "f32" : tensorType, shape, data });

  const embd = matrix(nEmbd, nVocab, 1);
  for (let t = 0; t < nVocab; t++) embd[t * nEmbd + BIAS_DIM] = BIAS_EMBEDDING;
  add("token_embd.weight", [nEmbd, nVocab], embd);
  const scale = 1 / Math.sqrt(nEmbd);
  for (let l = 0; l < o.layers; l++) {
    const p = `blk.${l}.`;
    add(`${p}attn_norm.weight`, [nEmbd], ones(nEmbd), true);
    add(`${p}attn_q.weight`, [nEmbd, nEmbd], matrix(nEmbd, nEmbd, scale));
    add(`${p}attn_k.weight`, [nEmbd, nEmbdKv], matrix(nEmbd, nEmbdKv, scale));
    add(`${p}attn_v.weight`, [nEmbd, nEmbdKv], matrix(nEmbd, nEmbdKv, scale));
    add(`${p}attn_output.weight`, [nEmbd, nEmbd], noBiasRow(matrix(nEmbd, nEmbd, scale), nEmbd));
    add(`${p}ffn_norm.weight`, [nEmbd], ones(nEmbd), true);
    const nFf = o.feedForwardLength;
    add(`${p}ffn_gate.weight`, [nEmbd, nFf], matrix(nEmbd, nFf, scale));
    add(`${p}ffn_up.weight`, [nEmbd, nFf], matrix(nEmbd, nFf, scale));
    add(`${p}ffn_down.weight`, [nFf, nEmbd], noBiasRow(matrix(nFf, nEmbd, scale), nFf));
  }
  add("output_norm.weight", [nEmbd], ones(nEmbd), true);
  const out = matrix(nEmbd, nVocab, 1);
  for (let t = 0; t < nVocab; t++) {
    const printable = t >= 0x20 && t <= 0x7e;
    out[t * nEmbd + BIAS_DIM] = printable ? BIAS_OUTPUT : -BIAS_OUTPUT;
  }
  add("output.weight", [nEmbd, nVocab], out);

  const u32 = (value: number): GgufWriterValue => ({ type: "uint32", value });
  const metadata: [string, GgufWriterValue][] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: options.name ?? "tiny-llama" }],
    ["general.file_type", u32(tensorType === "f32" ? 0 : 1)],
    ["llama.context_length", u32(o.contextLength)],
    ["llama.embedding_length", u32(nEmbd)],
    ["llama.block_count", u32(o.layers)],
    ["llama.feed_forward_length", u32(o.feedForwardLength)],
    ["llama.attention.head_count", u32(o.heads)],
    ["llama.attention.head_count_kv", u32(o.kvHeads)],
    ["llama.attention.layer_norm_rms_epsilon", { type: "float32", value: 1e-5 }],
    ["llama.rope.dimension_count", u32(headSize)],
    ["llama.rope.freq_base", { type: "float32", value: 10000 }],
    ["llama.vocab_size", u32(nVocab)],
    // Mean pooling. Without a pooling type, a llama-server started with --embeddings answers
    // /v1/embeddings with 400 ("Pooling type 'none' is not OAI compatible") and crashes with
    // SIGSEGV on /completion.
    ["llama.pooling_type", u32(1)],
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "string", value: "default" }],
    ["tokenizer.ggml.tokens", { type: "array", itemType: "string", values: tokens }],
    [
      "tokenizer.ggml.token_type",
      // 1 = normal, 3 = control
      {
        type: "array",
        itemType: "int32",
        values: tokens.map((_, i) => i === BOS_ID || i === EOS_ID ? 3 : 1),
      },
    ],
    ["tokenizer.ggml.merges", { type: "array", itemType: "string", values: [] }],
    ["tokenizer.ggml.bos_token_id", u32(BOS_ID)],
    ["tokenizer.ggml.eos_token_id", u32(EOS_ID)],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
  ];
  if (options.chatTemplate !== undefined) {
    metadata.push(["tokenizer.chat_template", { type: "string", value: options.chatTemplate }]);
  }
  const bytes = encodeGguf(metadata, tensors, {
    version: options.defect === "unsupported-version" ? 4 : 3,
  });
  return applyDefect(bytes, options.defect);
}

function applyDefect(bytes: Uint8Array, defect: TinyModelDefect | undefined): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (defect) {
    case undefined:
    case "unsupported-version":
      return bytes;
    case "truncated":
      // Like an interrupted download: the header is whole, the tensor data is not.
      return bytes.slice(0, Math.floor(bytes.length * 0.75));
    case "bad-magic":
      bytes.set(new TextEncoder().encode("GGUX"), 0);
      return bytes;
    case "big-endian":
      // Only the version is swapped: enough for readers that look at the version first,
      // which is how llama.cpp and gguf-py detect a foreign byte order.
      view.setUint32(4, view.getUint32(4, true), false);
      return bytes;
  }
}

/**
 * Writes a tiny random llama model (see the module doc) to `path`.
 *
 * @example
 * ```ts
 * const path = await Deno.makeTempFile({ suffix: ".gguf" });
 * await writeTinyModel(path, { seed: 7 });
 * ```
 */
export async function writeTinyModel(path: string, options: TinyModelOptions = {}): Promise<void> {
  await Deno.writeFile(path, tinyModelBytes(options));
}
