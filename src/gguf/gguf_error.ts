/**
 * Why a file cannot be used as a GGUF model:
 * - `not-gguf`: it is not a GGUF file at all (empty, a text or HTML page, an old GGML file…);
 * - `truncated`: it ends before what its header describes (an interrupted download);
 * - `unsupported-version`: a GGUF version other than 2 and 3;
 * - `big-endian`: a big-endian GGUF, which llama.cpp on these machines cannot load;
 * - `unsupported-tensor-type`: a tensor type the bundled llama.cpp does not know;
 * - `malformed`: its structure breaks the GGUF rules llama.cpp enforces (a corrupt file).
 */
export type GgufErrorReason =
  | "not-gguf"
  | "truncated"
  | "unsupported-version"
  | "big-endian"
  | "unsupported-tensor-type"
  | "malformed";

/** Options for {@linkcode GgufError}. */
export interface GgufErrorOptions extends ErrorOptions {
  /** Why the file is refused. */
  reason: GgufErrorReason;
}

/**
 * A file is not a GGUF model that llama.cpp can load. The message reads
 * "Cannot read GGUF file '<path>': <what is wrong>; <what to do>".
 *
 * @example
 * ```ts
 * import { GgufError, readGgufHeader } from "./mod.ts";
 * try {
 *   await readGgufHeader("model.gguf");
 * } catch (error) {
 *   if (error instanceof GgufError && error.reason === "truncated") {
 *     // download it again
 *   }
 * }
 * ```
 */
export class GgufError extends Error {
  /** Always `"GgufError"`. */
  override name = "GgufError";
  /** The file that was read. */
  readonly path: string;
  /** Why the file is refused. */
  readonly reason: GgufErrorReason;

  /**
   * Builds the error; the message is "Cannot read GGUF file '<path>': <detail>".
   *
   * @param path The file that was read.
   * @param detail "<what is wrong>; <what to do>".
   */
  constructor(path: string, detail: string, options: GgufErrorOptions) {
    super(`Cannot read GGUF file '${path}': ${detail}`, options);
    this.path = path;
    this.reason = options.reason;
  }
}
