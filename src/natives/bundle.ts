import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BundleLayout } from "./exec_line.ts";
import { extractBundle, extractedDir } from "./extract_bundle.ts";
import {
  type Manifest,
  MANIFEST_FILE,
  parseManifest,
  readManifest,
  readManifestText,
} from "./manifest.ts";
import { hostTarget, type Target } from "./target.ts";
import { verifyBundle } from "./verify_bundle.ts";

/** A verified llama.cpp bundle on disk, ready for {@linkcode execLine}. */
export interface Bundle extends BundleLayout {
  /** Absolute folder holding `bin/`, `lib/` and `manifest.json`. */
  dir: string;
  /** The bundle's verified `manifest.json`. */
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
export const DIST_DIR: string = fileURLToPath(new URL("../../native/dist", import.meta.url));

/** Raised when no bundle exists for a target. */
export class BundleNotFoundError extends Error {
  /** Always `"BundleNotFoundError"`. */
  override readonly name = "BundleNotFoundError";
  /** The target whose bundle is missing. */
  readonly target: Target;
  /** Where the bundle was looked for. */
  readonly dir: string;

  /** Builds the error for `target`, looked for in `dir`. */
  constructor(target: Target, dir: string, options?: ErrorOptions) {
    super(
      `Cannot find the llama.cpp bundle for "${target}": '${join(dir, MANIFEST_FILE)}' does not ` +
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

/** The paths a process needs permission for to load and run a bundle. */
export interface BundleGrants {
  /** For `--allow-read`: the folder of the bundles that came with the program. */
  read: string[];
  /** For `--allow-run`: the loader the bundle runs through, where it will be once loaded. */
  run: string[];
}

/**
 * Computes, without verifying anything, the permissions {@linkcode loadBundle} and running
 * the bundle need with the same options: in a checkout the loader inside `native/dist/`, in a
 * compiled binary the loader inside `<home>/natives/<hash>/` (which need not exist yet). No
 * run path when there is no bundle, so the CLI reports that itself.
 *
 * @throws {SyntaxError} when the bundle's manifest is invalid.
 */
export async function bundleGrants(
  home: string,
  options: Omit<LoadBundleOptions, "signal"> = {},
): Promise<BundleGrants> {
  const distDir = options.distDir ?? DIST_DIR;
  const source = join(distDir, options.target ?? hostTarget());
  const text = await readManifestText(source);
  if (text === null) return { read: [distDir], run: [] };
  const dir = options.embedded ?? Deno.build.standalone ? extractedDir(home, text) : source;
  return { read: [distDir], run: [join(dir, parseManifest(text).loader)] };
}
