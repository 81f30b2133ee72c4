import { z } from "zod";
import type { Logger } from "../src/log/mod.ts";
import { RepoFileSchema } from "./repo_file.ts";
import { isNotFound, writeFileAtomic } from "./_util.ts";

/**
 * The schema version this code writes. Version 1 (before `totals`) is migrated on load; a file
 * of any other version is moved aside (keeping its totals when they are readable).
 */
export const STATE_VERSION = 2;

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

/**
 * Bytes bootstrap brought into the store over all runs (the `edgellm_bootstrap_bytes_total`
 * counter, which `serve` reads from this file). Only ever grows: `--clean` and migrations keep
 * it.
 */
export const BootstrapTotalsSchema = z.strictObject({
  /** Bytes received from the hub, saved with each checkpoint. */
  downloaded_bytes: z.number().int().min(0),
  /** Bytes of files imported from a `--from` folder, saved after each file. */
  imported_bytes: z.number().int().min(0),
});

/** Bytes bootstrap brought into the store over all runs. */
export type BootstrapTotals = z.infer<typeof BootstrapTotalsSchema>;

/** `state/bootstrap.json`. */
export const BootstrapStateSchema = z.strictObject({
  version: z.literal(STATE_VERSION),
  totals: BootstrapTotalsSchema,
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

/** Version 1: as version 2, without `totals`. */
const StateV1Schema = BootstrapStateSchema.omit({ version: true, totals: true })
  .extend({ version: z.literal(1) });

function zeroTotals(): BootstrapTotals {
  return { downloaded_bytes: 0, imported_bytes: 0 };
}

/** A fresh, empty state; `totals` carries the byte totals over (e.g. across `--clean`). */
export function emptyState(totals: BootstrapTotals = zeroTotals()): BootstrapState {
  return { version: STATE_VERSION, totals: { ...totals }, downloads: {}, listings: {} };
}

/** Parses a state of this or an older version (migrated: version 1 kept no totals, so 0). */
function parseState(json: unknown) {
  const version = (json as { version?: unknown } | null)?.version;
  if (version !== 1) return BootstrapStateSchema.safeParse(json);
  const v1 = StateV1Schema.safeParse(json);
  if (!v1.success) return v1;
  return {
    success: true as const,
    data: { ...v1.data, version: STATE_VERSION, totals: zeroTotals() } satisfies BootstrapState,
  };
}

/** The totals of a parsed state file of any version, if it has readable ones. */
function totalsOf(json: unknown): BootstrapTotals | undefined {
  const totals = (json as { totals?: unknown } | null)?.totals;
  const result = BootstrapTotalsSchema.safeParse(totals);
  return result.success ? result.data : undefined;
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
 * Reads the state file. A missing file gives an empty state; a version 1 file is migrated. A
 * file that is not valid JSON, does not match the schema or has another version is never
 * trusted: it is renamed to `<path>.corrupt-<time>` with a warning and an empty state is
 * returned (never fatal), which keeps the old file's totals when they are readable, so that the
 * byte counter does not go back to 0 (e.g. after a newer edgellm wrote the file).
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
  let totals: BootstrapTotals | undefined;
  try {
    const json = JSON.parse(text);
    const result = parseState(json);
    if (result.success) return result.data;
    totals = totalsOf(json);
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
    kept_totals: totals !== undefined,
  });
  return emptyState(totals);
}

/**
 * Reads only the byte totals of a state file, for a process that does not hold the bootstrap
 * lock (`serve`'s `/metrics`). Safe while a bootstrap replaces the file: the rename is atomic,
 * so a read sees the old file or the new one. A missing file, or a version 1 file (which kept
 * no totals), gives zeros. Never moves or writes anything.
 *
 * @throws {SyntaxError} when the file is not JSON or has no readable totals.
 * @throws {Deno.errors.PermissionDenied} and other errors of reading the file.
 */
export async function readStateTotals(path: string): Promise<BootstrapTotals> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (isNotFound(error)) return zeroTotals();
    throw error;
  }
  const json = JSON.parse(text);
  if ((json as { version?: unknown } | null)?.version === 1) return zeroTotals();
  const totals = totalsOf(json);
  if (totals === undefined) {
    throw new SyntaxError(`Cannot read the byte totals of '${path}': no valid "totals" field`);
  }
  return totals;
}

/** Writes the state file atomically (temp file, fsync, rename, fsync of the folder). */
export async function saveState(path: string, state: BootstrapState): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(state, null, 1) + "\n");
}
