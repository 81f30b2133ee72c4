import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import type { Bundle } from "./bundle.ts";
import { type Manifest, MANIFEST_FILE, parseManifest } from "./manifest.ts";
import { BundleIntegrityError, verifyBundle } from "./verify_bundle.ts";
import { exists } from "../_util/exists.ts";
import { ignoreNotFound } from "../_util/ignore_not_found.ts";
import { replaceDir } from "./_util.ts";

/** Options for {@linkcode extractBundle}. */
export interface ExtractBundleOptions {
  /** Cancels between files; a cancelled extraction leaves no partial bundle. */
  signal?: AbortSignal;
}

/** What {@linkcode extractBundle} found and did. */
export interface ExtractResult {
  /** The bundle in its extracted folder, ready to run. */
  bundle: Bundle;
  /**
   * `present`: already extracted and intact; `extracted`: extracted now; `repaired`: an earlier
   * extraction was incomplete or tampered with and was replaced.
   */
  status: "present" | "extracted" | "repaired";
}

/**
 * Names a bundle by its manifest: the first 16 hex digits of the manifest's sha256 (which
 * covers every file's sha256), so a changed bundle never reuses an old folder.
 */
export function bundleHash(manifestText: string): string {
  return createHash("sha256").update(manifestText).digest("hex").slice(0, 16);
}

/** The folder a bundle with this manifest text is extracted to: `<home>/natives/<hash>`. */
export function extractedDir(home: string, manifestText: string): string {
  return join(home, "natives", bundleHash(manifestText));
}

/**
 * Copies the bundle in `source` (e.g. the read-only copy embedded in a compiled binary) to
 * `<home>/natives/<hash>/` and returns it, verified. Idempotent: an intact earlier extraction
 * is kept (after reading every file); a missing, changed or incomplete one is replaced.
 *
 * Safe when several processes start at once: they take turns under an advisory lock on
 * `<home>/natives/.lock`, each copy is written and verified in a temporary folder, and a
 * rename puts it in place, so no process sees a half-written bundle.
 *
 * @throws {Deno.errors.NotFound} when `source` has no manifest.
 * @throws {BundleIntegrityError} when a file in `source` does not match the manifest.
 */
export async function extractBundle(
  source: string,
  home: string,
  options: ExtractBundleOptions = {},
): Promise<ExtractResult> {
  const text = await Deno.readTextFile(join(source, MANIFEST_FILE));
  const manifest = parseManifest(text);
  const dir = extractedDir(home, text);
  const natives = dirname(dir);
  const bundle: Bundle = { dir, manifest, origin: "extracted" };
  let status = await intact(dir, text, manifest, options);
  if (status === "present") return { bundle, status };

  await Deno.mkdir(natives, { recursive: true });
  using lock = await Deno.open(join(natives, ".lock"), { create: true, write: true });
  await lock.lock(true);
  // Another process may have extracted (or repaired) it while this one waited.
  status = await intact(dir, text, manifest, options);
  if (status === "present") return { bundle, status };
  await removeLeftovers(natives, dir);
  const temp = `${dir}.tmp-${crypto.randomUUID()}`;
  try {
    await copyVerified(source, temp, manifest, options);
    await Deno.writeTextFile(join(temp, MANIFEST_FILE), text);
    await replaceDir(temp, dir);
  } finally {
    await Deno.remove(temp, { recursive: true }).catch(ignoreNotFound);
  }
  return { bundle, status };
}

/** `present` when `dir` holds exactly this bundle; else what extracting it would be. */
async function intact(
  dir: string,
  text: string,
  manifest: Manifest,
  options: ExtractBundleOptions,
): Promise<ExtractResult["status"]> {
  try {
    if (await Deno.readTextFile(join(dir, MANIFEST_FILE)) !== text) return "repaired";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return await exists(dir) ? "repaired" : "extracted";
    }
    throw error;
  }
  try {
    await verifyBundle(dir, manifest, options);
    return "present";
  } catch (error) {
    if (error instanceof BundleIntegrityError) return "repaired";
    throw error;
  }
}

/** Copies every manifest file from `source` to `dest`, hashing on the way. */
async function copyVerified(
  source: string,
  dest: string,
  manifest: Manifest,
  options: ExtractBundleOptions,
): Promise<void> {
  // The loader and the executables are run directly; libraries are only mapped.
  const executables = new Set([manifest.loader, ...Object.values(manifest.executables)]);
  const buffer = new Uint8Array(1 << 20);
  for (const file of manifest.files) {
    options.signal?.throwIfAborted();
    const to = join(dest, file.path);
    await Deno.mkdir(dirname(to), { recursive: true });
    const hash = createHash("sha256");
    {
      using input = await Deno.open(join(source, file.path)).catch((error) => {
        ignoreNotFound(error);
        throw new BundleIntegrityError(source, file.path, file.sha256, null, { cause: error });
      });
      using output = await Deno.open(to, { write: true, createNew: true });
      for (let n; (n = await input.read(buffer)) !== null;) {
        hash.update(buffer.subarray(0, n));
        for (let written = 0; written < n;) {
          written += await output.write(buffer.subarray(written, n));
        }
      }
    }
    const actual = hash.digest("hex");
    if (actual !== file.sha256) {
      throw new BundleIntegrityError(source, file.path, file.sha256, actual);
    }
    await Deno.chmod(to, executables.has(file.path) ? 0o755 : 0o644);
  }
}

/** Removes temporary folders of `dir` that a killed extraction left (the lock is held). */
async function removeLeftovers(natives: string, dir: string): Promise<void> {
  const prefix = `${basename(dir)}.`;
  for await (const entry of Deno.readDir(natives)) {
    if (entry.name.startsWith(prefix)) {
      await Deno.remove(join(natives, entry.name), { recursive: true });
    }
  }
}
