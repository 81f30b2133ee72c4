import { CliError, ExitCode } from "../src/errors.ts";

/** A name from the hub or a bundle that would escape the store; never written anywhere. */
export class UnsafePathError extends CliError {
  /** The refused value. */
  readonly value: string;

  /** Constructs a new instance. */
  constructor(what: string, value: string) {
    super(
      `Cannot use ${what} ${JSON.stringify(value)}: it could write outside the store ` +
        "(absolute, '..', '.', empty segment, backslash or NUL); refusing it",
      ExitCode.Failed,
    );
    this.name = "UnsafePathError";
    this.value = value;
  }
}

const COMMIT_SHA = /^[0-9a-f]{40}$/;
/** Blob names of the HF cache: a git blob id (40 hex) or an LFS sha256 (64 hex). */
const ETAG = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const REPO_ID = /^[\w.-]+\/[\w.-]+$/;

/** Whether a revision is a full commit sha (which never needs the network once fetched). */
export function isCommitSha(revision: string): boolean {
  return COMMIT_SHA.test(revision);
}

function safeRelative(value: string): boolean {
  if (value === "" || value.startsWith("/") || value.includes("\\") || value.includes("\0")) {
    return false;
  }
  return value.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

/**
 * Checks a repo file path before it becomes a local path.
 *
 * @throws {UnsafePathError} when it is absolute or contains `..`, `.`, an empty segment, a
 * backslash or NUL.
 */
export function assertSafeRepoPath(path: string): void {
  if (!safeRelative(path)) throw new UnsafePathError("the repo path", path);
}

/**
 * Checks a revision name before it becomes `refs/<revision>` (branches may contain `/`).
 *
 * @throws {UnsafePathError} on the same conditions as {@linkcode assertSafeRepoPath}.
 */
export function assertSafeRevision(revision: string): void {
  if (!safeRelative(revision)) throw new UnsafePathError("the revision", revision);
}

/**
 * Checks a blob name (ETag) or commit from the hub before it names a file.
 *
 * @throws {UnsafePathError} unless it is 40 or 64 lowercase hex digits.
 */
export function assertSafeEtag(etag: string): void {
  if (!ETAG.test(etag)) throw new UnsafePathError("the blob name", etag);
}

/**
 * Checks a commit sha from the hub before it names a snapshot folder.
 *
 * @throws {UnsafePathError} unless it is 40 lowercase hex digits.
 */
export function assertSafeCommit(commit: string): void {
  if (!COMMIT_SHA.test(commit)) throw new UnsafePathError("the commit", commit);
}

/**
 * Checks an `org/name` repo id.
 *
 * @throws {UnsafePathError} unless it is two segments of letters, digits, `_`, `.` and `-`
 * (and neither is `.` or `..`).
 */
export function assertSafeRepoId(repo: string): void {
  if (!REPO_ID.test(repo) || !safeRelative(repo)) throw new UnsafePathError("the repo id", repo);
}

/** The HF cache folder of a model repo: `org/name` → `models--org--name`. */
export function repoFolderName(repo: string): string {
  assertSafeRepoId(repo);
  return `models--${repo.replace("/", "--")}`;
}
