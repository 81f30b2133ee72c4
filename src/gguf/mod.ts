/**
 * GGUF model files: read and check a file's header before llama.cpp sees it, so that a file
 * that is not GGUF, is truncated or is unsupported is refused with a clear message.
 *
 * @example
 * ```ts
 * import { GgufError, readGgufHeader } from "./src/gguf/mod.ts";
 *
 * try {
 *   const header = await readGgufHeader("/models/tiny.gguf");
 *   console.log(header.architecture, header.contextLength, header.fileTypeName);
 * } catch (error) {
 *   if (!(error instanceof GgufError)) throw error;
 *   console.error(error.message); // Cannot read GGUF file '/models/tiny.gguf': ...
 * }
 * ```
 *
 * @module
 */

export * from "./gguf_error.ts";
export * from "./read_gguf_header.ts";
