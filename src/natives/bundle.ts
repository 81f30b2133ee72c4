import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BundleLayout } from "./exec_line.ts";
import { extractBundle } from "./extract_bundle.ts";
import { type Manifest, MANIFEST_FILE, readManifest } from "./manifest.ts";
import { hostTarget, type Target } from "./target.ts";
import { verifyBundle } from "./verify_bundle.ts";

/** A verified llama.cpp bundle on disk, ready for {@linkcode execLine}. */
export interface Bundle extends BundleLayout {
  /** Absolute folder holding `bin/`, `lib/` and `manifest.json`. */
  dir: string;
  manifest: Manifest;
  /**
   * `checkout`: used in place from `native/dist/<target>/`; `extracted`: copied out of the
   * compiled binary (or another folder) into `<home>/natives/<hash>/`.
   */
  origin: "checkout" | "extracted";
}

/**
 * The folder whose `<target>/` subfolders hold the bundles that came with this program:
 * `native/dist/` of a checkout, or, in a compiled binary, the copy that
 * `deno compile --include native/dist/<target>` embedded at the same place relative to this
 * module (read-only there, so it must be extracted before it can run).
 */
export const DIST_DIR: string = fileURLToPath(new URL("../../native/dist/", import.meta.url));

/** Raised when no bundle exists for a target. */
export class BundleNotFoundError extends Error {
  override readonly name = "BundleNotFoundError";
  /** The target whose bundle is missing. */
  readonly target: Target;
  /** Where the bundle was looked for. */
  readonly dir: string;

  /** Builds the error for `target`, looked for in `dir`. */
  constructor(target: Target, dir: string, options?: ErrorOptions) {
    super(
      `Cannot find the llama.cpp bundle for "${target}": "${join(dir, MANIFEST_FILE)}" does not ` +
        `exist; build it with "deno task natives --target ${target}", or set engine_path`,
      options,
    );
    this.target = target;
    this.dir = dir;
  }
}

/** Options for {@linkcode loadBundle}. */
export interface LoadBundleOptions {
  /** Which bundle. @default hostTarget() */
  target?: Target;
  /** Folder with one subfolder per target. @default DIST_DIR */
  distDir?: string;
  /**
   * Whether `distDir` is embedded in a compiled binary and must be extracted to run.
   * @default Deno.build.standalone
   */
  embedded?: boolean;
  /** Cancels verification or extraction. */
  signal?: AbortSignal;
}

/**
 * Finds the bundle of a target and verifies every file against its manifest before returning
 * it. In a compiled binary the embedded bundle is first extracted, once, to
 * `<home>/natives/<hash>/` (see {@linkcode extractBundle}); in a checkout `native/dist/<target>/`
 * is used in place. Verification reads every file (~60 MB): call this once at start-up and keep
 * the result.
 *
 * @throws {BundleNotFoundError} when there is no bundle for the target.
 * @throws {BundleIntegrityError} when a checkout's bundle, or the embedded one, is corrupt.
 */
export async function loadBundle(home: string, options: LoadBundleOptions = {}): Promise<Bundle> {
  const target = options.target ?? hostTarget();
  const source = join(options.distDir ?? DIST_DIR, target);
  try {
    if (options.embedded ?? Deno.build.standalone) {
      return (await extractBundle(source, home, options)).bundle;
    }
    const manifest = await readManifest(source);
    await verifyBundle(source, manifest, options);
    return { dir: source, manifest, origin: "checkout" };
  } catch (error) {
    // Both read the manifest first; a missing file inside the bundle is a BundleIntegrityError.
    if (error instanceof Deno.errors.NotFound) {
      throw new BundleNotFoundError(target, source, { cause: error });
    }
    throw error;
  }
}
