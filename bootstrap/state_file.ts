import { z } from "zod";
import type { Logger } from "../src/log/mod.ts";
import { RepoFileSchema } from "./repo_file.ts";
import { isNotFound, writeFileAtomic } from "./_util.ts";

/** The schema version this code writes; a file with another version is moved aside. */
export const STATE_VERSION = 1;

/** A download in progress: enough to resume it and to prove the partial belongs to it. */
export const DownloadStateSchema = z.strictObject({
  repo: z.string(),
  commit: z.string(),
  path: z.string(),
  /** Expected size in bytes. */
  size: z.number().int().min(0),
  /** Expected sha256 (LFS files), else `null` (the git blob id `etag` verifies it). */
  sha256: z.string().nullable(),
  /** The blob name, which the partial `blobs/<etag>.incomplete` is named after. */
  etag: z.string(),
  /** The ETag of the response that served the bytes, sent as `If-Range` on resume. */
  validator: z.string().nullable(),
  /** Bytes of the partial known to be on disk (fsynced) at the last checkpoint. */
  bytes_done: z.number().int().min(0),
  /** ISO time of the last checkpoint. */
  updated_at: z.string(),
});

/** A download in progress. */
export type DownloadState = z.infer<typeof DownloadStateSchema>;

/** `state/bootstrap.json`. */
export const BootstrapStateSchema = z.strictObject({
  version: z.literal(STATE_VERSION),
  /** Downloads in progress, by `<repo folder>/blobs/<etag>`. */
  downloads: z.record(z.string(), DownloadStateSchema),
  /**
   * The hub's full file list of each fetched commit, by `<repo>@<commit>`: a commit never
   * changes, so a rerun at a commit sha needs no request at all.
   */
  listings: z.record(z.string(), z.array(RepoFileSchema)),
});

/** The content of `state/bootstrap.json`. */
export type BootstrapState = z.infer<typeof BootstrapStateSchema>;

/** A fresh, empty state. */
export function emptyState(): BootstrapState {
  return { version: STATE_VERSION, downloads: {}, listings: {} };
}

/** The key of a commit's listing in {@linkcode BootstrapState.listings}. */
export function listingKey(repo: string, commit: string): string {
  return `${repo}@${commit}`;
}

/** Options for {@linkcode loadState}. */
export interface LoadStateOptions {
  /** Receives the warning about a corrupt file. */
  logger?: Logger;
  /** The clock, for the name of a moved-aside file. @default {() => new Date()} */
  now?: () => Date;
}

/**
 * Reads the state file. A missing file gives an empty state. A file that is not valid JSON,
 * does not match the schema or has another version is never trusted: it is renamed to
 * `<path>.corrupt-<time>` with a warning and an empty state is returned (never fatal).
 */
export async function loadState(
  path: string,
  options: LoadStateOptions = {},
): Promise<BootstrapState> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (isNotFound(error)) return emptyState();
    throw error;
  }
  let problem: string;
  try {
    const result = BootstrapStateSchema.safeParse(JSON.parse(text));
    if (result.success) return result.data;
    problem = result.error.issues.map((i) => `${i.path.join(".") || "file"}: ${i.message}`)
      .slice(0, 3).join("; ");
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    problem = error.message;
  }
  const stamp = (options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, "-");
  const aside = `${path}.corrupt-${stamp}`;
  await Deno.rename(path, aside);
  options.logger?.warn("state file is corrupt; moved it aside and starting from a clean state", {
    path,
    moved_to: aside,
    problem,
  });
  return emptyState();
}

/** Writes the state file atomically (temp file, fsync, rename, fsync of the folder). */
export async function saveState(path: string, state: BootstrapState): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(state, null, 1) + "\n");
}
