import { statfs } from "node:fs/promises";
import { CliError, ExitCode } from "../src/errors.ts";
import { formatBytes } from "./_util.ts";

/** Not enough free disk for a file; nothing was written and partials are kept. */
export class DiskSpaceError extends CliError {
  /** Bytes the file still needs. */
  readonly needed: number;
  /** Bytes free for this process. */
  readonly available: number;

  /** Constructs a new instance. */
  constructor(what: string, dir: string, needed: number, available: number) {
    super(
      `Cannot download ${what}: it needs ${formatBytes(needed)} more but only ` +
        `${formatBytes(available)} is free on the file system of '${dir}'. Free some space ` +
        "and run the bootstrap again; what is already downloaded is kept.",
      ExitCode.Failed,
    );
    this.name = "DiskSpaceError";
    this.needed = needed;
    this.available = available;
  }
}

/** Bytes available to an unprivileged writer on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const info = await statfs(dir);
  return Number(info.bavail) * Number(info.bsize);
}

/**
 * Checks that `dir`'s file system has `needed` bytes free.
 *
 * @throws {DiskSpaceError} when it has not.
 */
export async function ensureFreeSpace(
  dir: string,
  needed: number,
  options: { what: string; freeBytes?: (dir: string) => Promise<number> },
): Promise<void> {
  if (needed <= 0) return;
  const available = await (options.freeBytes ?? freeBytes)(dir);
  if (available < needed) throw new DiskSpaceError(options.what, dir, needed, available);
}
