import { dirname, join, relative } from "node:path";
import {
  assertSafeCommit,
  assertSafeEtag,
  assertSafeRepoPath,
  assertSafeRevision,
  isCommitSha,
  repoFolderName,
} from "./repo_path.ts";
import {
  isNotFound,
  lstatOrUndefined,
  statOrUndefined,
  symlink,
  syncDir,
  writeFileAtomic,
} from "./_util.ts";

/**
 * The model store under `$EDGELLM_HOME/hub`, in the Hugging Face cache layout so that HF
 * tooling can share it:
 *
 * ```
 * models--ORG--NAME/blobs/<etag>               verified content (final only by rename)
 * models--ORG--NAME/blobs/<etag>.incomplete    a partial download
 * models--ORG--NAME/snapshots/<commit>/<path>  relative links to ../../blobs/<etag>
 * models--ORG--NAME/refs/<revision>            the commit a branch or tag points at
 * ```
 *
 * Every name that becomes a path is checked first (see `repo_path.ts`), so nothing is ever
 * written outside the store.
 */
export class HubStore {
  /** The `hub` folder. */
  readonly root: string;

  /** A store at `root` (`$EDGELLM_HOME/hub`, or an HF cache folder read as a source). */
  constructor(root: string) {
    this.root = root;
  }

  /** `models--ORG--NAME`. */
  repoDir(repo: string): string {
    return join(this.root, repoFolderName(repo));
  }

  /** `blobs/<etag>`: verified content. */
  blobPath(repo: string, etag: string): string {
    assertSafeEtag(etag);
    return join(this.repoDir(repo), "blobs", etag);
  }

  /** `blobs/<etag>.incomplete`: a partial download. */
  incompletePath(repo: string, etag: string): string {
    return `${this.blobPath(repo, etag)}.incomplete`;
  }

  /** `snapshots/<commit>`. */
  snapshotDir(repo: string, commit: string): string {
    assertSafeCommit(commit);
    return join(this.repoDir(repo), "snapshots", commit);
  }

  /** `snapshots/<commit>/<path>`. */
  snapshotPath(repo: string, commit: string, path: string): string {
    assertSafeRepoPath(path);
    return join(this.snapshotDir(repo, commit), path);
  }

  /** `refs/<revision>`. */
  refPath(repo: string, revision: string): string {
    assertSafeRevision(revision);
    return join(this.repoDir(repo), "refs", revision);
  }

  /**
   * The commit a revision stands for locally: the revision itself when it is a commit sha,
   * else the content of `refs/<revision>`; `undefined` when there is no such ref.
   * Synchronous (one small file), so that `resolveModelFile` can stay synchronous.
   */
  localCommit(repo: string, revision: string): string | undefined {
    if (isCommitSha(revision)) return revision;
    let text: string;
    try {
      text = Deno.readTextFileSync(this.refPath(repo, revision));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const commit = text.trim();
    return isCommitSha(commit) ? commit : undefined;
  }

  /**
   * Points `refs/<revision>` at `commit`, atomically. Called last, once the commit's snapshot
   * is complete, so a failed update leaves the old snapshot in use. A commit sha revision
   * needs no ref.
   */
  async writeRef(repo: string, revision: string, commit: string): Promise<void> {
    assertSafeCommit(commit);
    if (isCommitSha(revision)) return;
    if (this.localCommit(repo, revision) === commit) return;
    const path = this.refPath(repo, revision);
    await Deno.mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, commit);
  }

  /** The size of a final blob, or `undefined` when it is absent. */
  async blobSize(repo: string, etag: string): Promise<number | undefined> {
    return (await statOrUndefined(this.blobPath(repo, etag)))?.size;
  }

  /**
   * Makes `snapshots/<commit>/<path>` a relative link to `blobs/<etag>` (depth-aware for
   * nested paths), replacing whatever was there atomically. Idempotent.
   */
  async linkSnapshot(repo: string, commit: string, file: { path: string; etag: string }) {
    const link = this.snapshotPath(repo, commit, file.path);
    const target = relative(dirname(link), this.blobPath(repo, file.etag));
    const existing = await lstatOrUndefined(link);
    if (existing?.isSymlink && await Deno.readLink(link) === target) return;
    await Deno.mkdir(dirname(link), { recursive: true });
    const temp = `${link}.tmp-${Deno.pid}`;
    await Deno.remove(temp).catch((error) => {
      if (!isNotFound(error)) throw error;
    });
    await symlink(target, temp);
    await Deno.rename(temp, link);
    await syncDir(dirname(link));
  }

  /**
   * The files of a local snapshot whose links resolve to a blob: each with its path and the
   * blob name it links to (`etag`), or `etag: undefined` for a plain file (an HF cache made
   * without symlinks), sorted by path. An absent snapshot gives an empty list. Synchronous (a
   * snapshot is a handful of entries), like {@linkcode HubStore.localCommit}.
   */
  snapshotFiles(repo: string, commit: string): SnapshotFile[] {
    const files: SnapshotFile[] = [];
    function walk(dir: string, prefix: string): void {
      let entries: Deno.DirEntry[];
      try {
        entries = [...Deno.readDirSync(dir)];
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
      for (const entry of entries) {
        const path = prefix ? `${prefix}/${entry.name}` : entry.name;
        const full = join(dir, entry.name);
        if (entry.isDirectory) {
          walk(full, path);
          continue;
        }
        let info: Deno.FileInfo;
        try {
          info = Deno.statSync(full);
        } catch (error) {
          if (isNotFound(error)) continue; // a dangling link: its blob is gone
          throw error;
        }
        if (!info.isFile) continue;
        const etag = entry.isSymlink ? Deno.readLinkSync(full).split("/").pop() : undefined;
        files.push({ path, size: info.size, etag, localPath: full });
      }
    }
    walk(this.snapshotDir(repo, commit), "");
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

/** A file found in a local snapshot folder. */
export interface SnapshotFile {
  /** Path inside the repo. */
  readonly path: string;
  /** Size of the content it resolves to. */
  readonly size: number;
  /** The blob name its link points at; `undefined` for a plain file. */
  readonly etag: string | undefined;
  /** Absolute path of the snapshot entry. */
  readonly localPath: string;
}
