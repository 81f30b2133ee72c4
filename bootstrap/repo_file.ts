import { createHash, type Hash } from "node:crypto";
import { z } from "zod";

/** One file of a repo at a commit, as the hub's tree lists it. */
export const RepoFileSchema = z.object({
  /** Path inside the repo, `/`-separated. */
  path: z.string().min(1),
  /** Size in bytes of the real content (for LFS files, not of the pointer). */
  size: z.number().int().min(0),
  /** The HF cache blob name: the LFS sha256, or the git blob id of a small file. */
  etag: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/),
  /** The content's sha256 when the hub knows it (LFS files), else `null`. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
});

/** One file of a repo at a commit. */
export type RepoFile = z.infer<typeof RepoFileSchema>;

/**
 * What proves a file's content: its sha256 for LFS files; for small files, which the hub
 * stores in git, the git blob id (`sha1("blob <size>\0" + content)`), the only hash it gives.
 */
export interface ExpectedDigest {
  /** `sha256` of the content, or `git-sha1` of the git blob (header and content). */
  readonly algorithm: "sha256" | "git-sha1";
  /** The lowercase hex digest the content must have. */
  readonly hex: string;
}

/** The digest that verifies a file's content (see {@linkcode ExpectedDigest}). */
export function expectedDigest(file: Pick<RepoFile, "etag" | "sha256">): ExpectedDigest {
  if (file.sha256 !== null) return { algorithm: "sha256", hex: file.sha256 };
  return file.etag.length === 64
    ? { algorithm: "sha256", hex: file.etag }
    : { algorithm: "git-sha1", hex: file.etag };
}

/** An incremental hash of a file's content in the algorithm its {@linkcode ExpectedDigest} names. */
export class ContentHasher {
  readonly #hash: Hash;
  readonly #sha256: Hash | undefined;

  /**
   * Starts a hash for a file of `size` bytes. With `withSha256`, a sha256 is computed besides
   * a git blob id (export manifests record every file's sha256).
   */
  constructor(algorithm: ExpectedDigest["algorithm"], size: number, withSha256 = false) {
    if (algorithm === "sha256") {
      this.#hash = createHash("sha256");
    } else {
      this.#hash = createHash("sha1").update(`blob ${size}\0`);
      if (withSha256) this.#sha256 = createHash("sha256");
    }
  }

  /** Feeds the next bytes of the content. */
  update(bytes: Uint8Array): void {
    this.#hash.update(bytes);
    this.#sha256?.update(bytes);
  }

  /** The hex digest in the chosen algorithm, and the sha256 when it was asked for. */
  digest(): { hex: string; sha256: string | undefined } {
    const hex = this.#hash.digest("hex");
    return { hex, sha256: this.#sha256 ? this.#sha256.digest("hex") : undefined };
  }
}

/** Read buffer for hashing and copying: large reads are ~2× faster than `FsFile.readable`. */
const READ_BUFFER_BYTES = 1 << 20;

/** Options for {@linkcode hashFilePrefix}. */
export interface HashFileOptions {
  /** How many bytes from the start to read. */
  length: number;
  /** Also receives every chunk read (to copy while hashing). */
  onChunk?: (bytes: Uint8Array) => Promise<void>;
  /** Stops reading when aborted. */
  signal?: AbortSignal;
}

/** Feeds the first `length` bytes of an open file (from its start) into `hasher`. */
export async function hashFilePrefix(
  file: Deno.FsFile,
  hasher: { update(bytes: Uint8Array): void },
  options: HashFileOptions,
): Promise<void> {
  const { length } = options;
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  await file.seek(0, Deno.SeekMode.Start);
  let done = 0;
  while (done < length) {
    options.signal?.throwIfAborted();
    const n = await file.read(buffer.subarray(0, Math.min(buffer.length, length - done)));
    if (n === null) throw new RangeError(`Cannot hash ${length} bytes: the file ends at ${done}`);
    const chunk = buffer.subarray(0, n);
    hasher.update(chunk);
    if (options.onChunk) await options.onChunk(chunk);
    done += n;
  }
}
