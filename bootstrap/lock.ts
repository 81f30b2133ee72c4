import { CliError, ExitCode } from "../src/errors.ts";
import {
  acquireExclusiveLock,
  type AcquireExclusiveLockOptions,
  type ExclusiveLock,
  LockHeldError,
} from "../src/store/exclusive_lock.ts";

/** Another bootstrap holds the lock (exit 75: retry later, or pass `--wait`). */
export class LockBusyError extends CliError {
  /** The pid written by the holder, if it could be read. */
  readonly pid: number | undefined;

  /** Constructs a new instance. */
  constructor(path: string, pid: number | undefined, waitedMs: number) {
    const holder = pid === undefined ? "another process" : `process ${pid}`;
    const waited = waitedMs > 0 ? ` after waiting ${Math.round(waitedMs / 1000)} s` : "";
    super(
      `Cannot bootstrap: another bootstrap (${holder}) holds '${path}'${waited}. ` +
        "Retry later, or pass --wait SECONDS to wait for it.",
      ExitCode.TempFail,
    );
    this.name = "LockBusyError";
    this.pid = pid;
  }
}

/**
 * Takes the bootstrap's exclusive lock on `path` ({@linkcode acquireExclusiveLock}).
 *
 * @throws {LockBusyError} when another process holds it longer than `waitMs`.
 */
export async function acquireLock(
  path: string,
  options: AcquireExclusiveLockOptions = {},
): Promise<ExclusiveLock> {
  try {
    return await acquireExclusiveLock(path, options);
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    throw new LockBusyError(path, error.pid, error.waitedMs);
  }
}
