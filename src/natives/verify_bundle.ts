import { ignoreNotFound } from "../_util/ignore_not_found.ts";
import { join } from "node:path";
import type { Manifest } from "./manifest.ts";
import { sha256File } from "./sha256_file.ts";

/** Raised when a bundle file is missing or its contents differ from the manifest. */
export class BundleIntegrityError extends Error {
  /** Always `"BundleIntegrityError"`. */
  override readonly name = "BundleIntegrityError";
  /** The bundle folder. */
  readonly dir: string;
  /** The file's path inside the bundle, e.g. `lib/libllama.so.0`. */
  readonly path: string;
  /** The sha256 the manifest records. */
  readonly expected: string;
  /** The sha256 found on disk, or `null` when the file is missing. */
  readonly actual: string | null;

  /** Builds the error for `path` inside the bundle `dir`. */
  constructor(
    dir: string,
    path: string,
    expected: string,
    actual: string | null,
    options?: ErrorOptions,
  ) {
    const found = actual === null ? "is missing" : `has sha256 "${actual}"`;
    super(
      `Cannot verify llama.cpp bundle '${dir}': '${path}' ${found}, the manifest says "${expected}"; ` +
        `restore the bundle ("edgellm natives extract", or "deno task natives" in a checkout)`,
      options,
    );
    this.dir = dir;
    this.path = path;
    this.expected = expected;
    this.actual = actual;
  }
}

/** Options for {@linkcode verifyBundle}. */
export interface VerifyBundleOptions {
  /** Stops verifying between files. */
  signal?: AbortSignal;
}

/**
 * Checks every file the manifest lists against its sha256, in manifest order.
 *
 * @throws {BundleIntegrityError} for the first file that is missing or differs.
 */
export async function verifyBundle(
  dir: string,
  manifest: Manifest,
  options: VerifyBundleOptions = {},
): Promise<void> {
  const buffer = new Uint8Array(1 << 20);
  for (const file of manifest.files) {
    options.signal?.throwIfAborted();
    let actual: string | null;
    try {
      actual = (await sha256File(join(dir, file.path), { buffer })).sha256;
    } catch (error) {
      ignoreNotFound(error);
      throw new BundleIntegrityError(dir, file.path, file.sha256, null, { cause: error });
    }
    if (actual !== file.sha256) throw new BundleIntegrityError(dir, file.path, file.sha256, actual);
  }
}
