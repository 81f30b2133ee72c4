import { dirname } from "node:path";
import { ensureFreeSpace } from "./disk_space.ts";
import { ChecksumMismatchError } from "./download.ts";
import type { SourceFile } from "./import_source.ts";
import type { Progress } from "./progress.ts";
import { ContentHasher, expectedDigest, hashFilePrefix } from "./repo_file.ts";
import type { HubStore } from "./store.ts";
import { removeIfExists, syncDir } from "./_util.ts";

/** What an import of one file needs. */
export interface ImportFileContext {
  readonly store: HubStore;
  readonly progress: Progress;
  readonly signal?: AbortSignal | undefined;
  /** Free bytes of a folder's file system. @default {statfs} */
  readonly freeBytes?: ((dir: string) => Promise<number>) | undefined;
}

/**
 * Copies a file from an offline source into `blobs/<etag>`, verifying while copying: its
 * size, its blob name (sha256 or git blob id) and, when the source states one, its sha256.
 * Only a match becomes final (by rename); a mismatch leaves nothing behind.
 *
 * @returns the bytes copied.
 * @throws {ChecksumMismatchError} when the content does not match.
 */
export async function importFile(
  repo: string,
  file: SourceFile,
  context: ImportFileContext,
): Promise<number> {
  const blob = context.store.blobPath(repo, file.etag);
  const partial = context.store.incompletePath(repo, file.etag);
  await Deno.mkdir(dirname(blob), { recursive: true });
  await ensureFreeSpace(dirname(blob), file.size, {
    what: `'${repo}/${file.path}'`,
    ...(context.freeBytes ? { freeBytes: context.freeBytes } : {}),
  });
  // The blob name must be proven too: a git blob id by git-sha1, an LFS one by sha256.
  const byName = expectedDigest({ etag: file.etag, sha256: null });
  const hasher = new ContentHasher(byName.algorithm, file.size, file.sha256 !== null);
  using source = await Deno.open(file.localPath, { read: true });
  const size = (await source.stat()).size;
  context.progress.start({ repo, path: file.path, size: file.size, done: 0 });
  let ok = false;
  try {
    if (size === file.size) {
      using target = await Deno.open(partial, { write: true, create: true, truncate: true });
      await hashFilePrefix(source, hasher, {
        length: size,
        onChunk: async (chunk) => {
          let written = 0;
          while (written < chunk.length) written += await target.write(chunk.subarray(written));
          context.progress.advance(chunk.length);
        },
        ...(context.signal ? { signal: context.signal } : {}),
      });
      await target.sync();
    }
    const digest = hasher.digest();
    const sha256 = byName.algorithm === "sha256" ? digest.hex : digest.sha256;
    const actual = size !== file.size
      ? `${size} bytes instead of ${file.size}`
      : digest.hex !== byName.hex
      ? digest.hex
      : file.sha256 !== null && sha256 !== file.sha256
      ? `sha256 ${sha256} (manifest: ${file.sha256})`
      : undefined;
    if (actual !== undefined) {
      throw new ChecksumMismatchError(repo, file.path, {
        expected: byName,
        actual,
        context: `copied from '${file.localPath}'`,
      });
    }
    await Deno.rename(partial, blob);
    await syncDir(dirname(blob));
    ok = true;
    return size;
  } finally {
    context.progress.finish(ok);
    if (!ok) await removeIfExists(partial);
  }
}
