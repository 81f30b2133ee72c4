import { dirname } from "node:path";
import { delay } from "../_util/delay.ts";

/** Another process holds the lock (callers map it to their own message and exit 75). */
export class LockHeldError extends Error {
  /** The lock file. */
  readonly path: string;
  /** The pid the holder wrote into the file, if it could be read. */
  readonly pid: number | undefined;
  /** How long this process waited before giving up, in ms. */
  readonly waitedMs: number;

  /** Constructs a new instance. */
  constructor(path: string, pid: number | undefined, waitedMs: number) {
    const holder = pid === undefined ? "another process" : `process ${pid}`;
    super(`Cannot take the lock "${path}": ${holder} holds it`);
    this.name = "LockHeldError";
    this.path = path;
    this.pid = pid;
    this.waitedMs = waitedMs;
  }
}

/** Options for {@linkcode acquireExclusiveLock}. */
export interface AcquireExclusiveLockOptions {
  /** How long to wait for a busy lock; 0 fails at once. @default {0} */
  waitMs?: number;
  /** How often to try again while waiting. @default {100} */
  pollMs?: number;
  /** Stops waiting (rejects with its reason). */
  signal?: AbortSignal;
}

/** A held lock; disposing it (or the process dying) releases it. */
export interface ExclusiveLock extends Disposable {
  /** The lock file. */
  readonly path: string;
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
 * Takes the exclusive lock on `path` (its folder is created if needed): an advisory `flock`,
 * which the OS releases when the process dies, so a lock is never stale. This process's pid
 * is written into the file for the next contender's message, and cleared on release.
 *
 * @throws {LockHeldError} when another process holds it longer than `waitMs`.
 *
 * @example
 * ```ts
 * using _lock = await acquireExclusiveLock("/var/lib/edgellm/state/bootstrap.lock");
 * ```
 */
export async function acquireExclusiveLock(
  path: string,
  options: AcquireExclusiveLockOptions = {},
): Promise<ExclusiveLock> {
  const waitMs = options.waitMs ?? 0;
  const started = Date.now();
  await Deno.mkdir(dirname(path), { recursive: true });
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    while (!(await file.tryLock(true))) {
      const waited = Date.now() - started;
      if (waited >= waitMs) throw new LockHeldError(path, await readPid(file), waited);
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
  return { path, release, [Symbol.dispose]: release };
}
