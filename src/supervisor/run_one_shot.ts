import type { ExitStatus, SpawnedChild, Spawner, SpawnRequest } from "./spawner.ts";

/**
 * How long a process gets between SIGTERM and SIGKILL: llama.cpp stops within milliseconds
 * of SIGTERM when it is generating, but loading a large model from a slow card is not
 * interruptible, and a process that never exits must not hold up the caller.
 */
export const DEFAULT_GRACE_MS = 2_000;

/** What to run once: a {@linkcode SpawnRequest} whose output {@linkcode runOneShot} captures. */
export type OneShotRequest = Omit<SpawnRequest, "output" | "onOutput">;

/** What a one-shot process printed so far, at most `maxOutputBytes` per stream. */
export interface OneShotOutput {
  /** Decoded stdout, in order, up to the cap. */
  stdout: string;
  /** Decoded stderr, in order, up to the cap. */
  stderr: string;
  /** Whether stdout went past the cap; what came after is dropped. */
  stdoutTruncated: boolean;
  /** Whether stderr went past the cap; what came after is dropped. */
  stderrTruncated: boolean;
}

/** Options for {@linkcode runOneShot}. */
export interface RunOneShotOptions {
  /** Stop the process this long after the spawn was asked for. @default {no deadline} */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL when it is stopped. @default DEFAULT_GRACE_MS */
  graceMs?: number;
  /** Stops the process (SIGTERM, grace, SIGKILL) when aborted. */
  signal?: AbortSignal;
  /** Output kept per stream, in bytes. @default {no limit} */
  maxOutputBytes?: number;
  /** Called once the process runs, with its live output (filled as it comes). */
  onSpawn?: (child: SpawnedChild, output: Readonly<OneShotOutput>) => void;
}

/** How a process run by {@linkcode runOneShot} ended, with what it printed. */
export interface OneShotResult extends ExitStatus, OneShotOutput {
  /** Process id it had. */
  pid: number;
  /** Why edgellm stopped it, if it did: its deadline passed, or `signal` aborted. */
  stoppedBy: "deadline" | "abort" | null;
  /** The signal that finally ended it when it was stopped: SIGTERM, or SIGKILL after the grace. */
  stoppedWith: "SIGTERM" | "SIGKILL" | null;
  /** Wall time from the spawn request to the exit. */
  elapsedMs: number;
}

const encoder = new TextEncoder();

/**
 * Runs a one-shot process through the sandboxed `spawner` to its end, stopping it when its
 * deadline passes or `signal` aborts: SIGTERM, then SIGKILL after a grace period. The
 * spawner gives it exactly `request.env`, closed stdin, its own session, and (through
 * `setpriv`) death with edgellm; it drains both pipes, so the process can never block on a
 * full one. `edgellm run` and every job go through here.
 *
 * @throws {import("./spawner.ts").SpawnError} when the spawn is refused or fails.
 *
 * @example
 * ```ts
 * const spawner = new Spawner({ run: ["/usr/bin/sleep"] });
 * const result = await runOneShot(spawner, { command: "/usr/bin/sleep", args: ["10"], env: {} }, {
 *   timeoutMs: 1_000,
 * });
 * result.stoppedBy; // "deadline"
 * spawner.close();
 * ```
 */
export async function runOneShot(
  spawner: Spawner,
  request: OneShotRequest,
  options: RunOneShotOptions = {},
): Promise<OneShotResult> {
  const started = performance.now();
  const max = options.maxOutputBytes ?? Infinity;
  const output: OneShotOutput = {
    stdout: "",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
  };
  const bytes = { stdout: 0, stderr: 0 };
  let child: SpawnedChild | undefined;
  let stoppedBy: OneShotResult["stoppedBy"] = null;
  let stoppedWith: OneShotResult["stoppedWith"] = null;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const terminate = (running: SpawnedChild) => {
    stoppedWith = "SIGTERM";
    running.kill("SIGTERM");
    killTimer = setTimeout(() => {
      stoppedWith = "SIGKILL";
      running.kill("SIGKILL");
    }, options.graceMs ?? DEFAULT_GRACE_MS);
  };
  const stop = (why: "deadline" | "abort") => {
    if (stoppedBy !== null) return;
    stoppedBy = why;
    // With the spawn still in flight, the process is stopped as soon as it exists.
    if (child !== undefined) terminate(child);
  };
  const deadline = options.timeoutMs === undefined
    ? undefined
    : setTimeout(() => stop("deadline"), options.timeoutMs);
  const onAbort = () => stop("abort");
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    child = await spawner.spawn({
      ...request,
      output: "text",
      onOutput: (stream, _at, chunks) => {
        const truncated = stream === "stdout" ? "stdoutTruncated" : "stderrTruncated";
        for (const chunk of chunks) {
          if (output[truncated]) return;
          if (max === Infinity) {
            output[stream] += chunk;
            continue;
          }
          const encoded = encoder.encode(chunk);
          const room = max - bytes[stream];
          if (encoded.length > room) {
            // The part that fits, whole characters only (a streaming decode holds back a cut one).
            output[stream] += new TextDecoder().decode(encoded.subarray(0, room), { stream: true });
            output[truncated] = true;
            return;
          }
          output[stream] += chunk;
          bytes[stream] += encoded.length;
        }
      },
    });
    options.onSpawn?.(child, output);
    if (stoppedBy !== null) terminate(child);
    const status = await child.status;
    return {
      ...status,
      ...output,
      pid: child.pid,
      stoppedBy,
      stoppedWith: stoppedBy === null ? null : stoppedWith,
      elapsedMs: performance.now() - started,
    };
  } finally {
    clearTimeout(deadline);
    clearTimeout(killTimer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
