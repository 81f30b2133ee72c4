import { CliError, ExitCode } from "../src/errors.ts";
import { delay } from "./_util.ts";

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

/** Options for {@linkcode acquireLock}. */
export interface AcquireLockOptions {
  /** How long to wait for a busy lock; 0 fails at once. @default {0} */
  waitMs?: number;
  /** How often to try again while waiting. @default {100} */
  pollMs?: number;
  /** Stops waiting. */
  signal?: AbortSignal;
}

/** A held lock; disposing (or the process dying) releases it. */
export interface HeldLock extends Disposable {
  /** Releases the lock. Idempotent. */
  release(): void;
}

async function readPid(file: Deno.FsFile): Promise<number | undefined> {
  await file.seek(0, Deno.SeekMode.Start);
  const buffer = new Uint8Array(32);
  const n = await file.read(buffer);
  const text = new TextDecoder().decode(buffer.subarray(0, n ?? 0)).trim();
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

/**
 * Takes the exclusive lock on `path` (an advisory `flock`, which the OS releases when the
 * process dies, so a lock is never stale) and writes this process's pid into it for the
 * next contender's message.
 *
 * @throws {LockBusyError} when another process holds it longer than `waitMs`.
 */
export async function acquireLock(
  path: string,
  options: AcquireLockOptions = {},
): Promise<HeldLock> {
  const waitMs = options.waitMs ?? 0;
  const started = Date.now();
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    while (!(await file.tryLock(true))) {
      const waited = Date.now() - started;
      if (waited >= waitMs) throw new LockBusyError(path, await readPid(file), waited);
      await delay(Math.min(options.pollMs ?? 100, waitMs - waited), options.signal);
    }
    await file.truncate(0);
    await file.seek(0, Deno.SeekMode.Start);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (error) {
    file.close();
    throw error;
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    file.truncateSync(0); // a free lock names no holder
    file.close(); // closing the descriptor drops the flock
  };
  return { release, [Symbol.dispose]: release };
}
