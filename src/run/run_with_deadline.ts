import type { ExecLine } from "../natives/mod.ts";

/**
 * How long a process gets between SIGTERM and SIGKILL: llama.cpp stops within milliseconds
 * of SIGTERM when it is generating, but loading a large model from a slow card is not
 * interruptible, and a process that never exits must not hold up the caller.
 */
export const DEFAULT_GRACE_MS = 2_000;

/** Options for {@linkcode runWithDeadline}. */
export interface RunWithDeadlineOptions {
  /** Stop the process this long after it started. @default {no deadline} */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL. @default DEFAULT_GRACE_MS */
  graceMs?: number;
  /** Stops the process (SIGTERM, grace, SIGKILL) when aborted. */
  signal?: AbortSignal;
  /** The process's whole environment (never `LD_*`). @default {{}} */
  env?: Record<string, string>;
}

/** How a process run by {@linkcode runWithDeadline} ended, with everything it printed. */
export interface RunResult {
  /** Process id it had. */
  pid: number;
  /** Exit code; 128 + the signal number when a signal ended it. */
  code: number;
  /** The signal that ended it, if one did. */
  signal: Deno.Signal | null;
  /** Whether the deadline passed and the process was stopped. */
  timedOut: boolean;
  /** Whether `signal` aborted and the process was stopped. */
  aborted: boolean;
  /** The signal that finally ended it when it was stopped: SIGTERM, or SIGKILL after the grace. */
  stoppedWith: "SIGTERM" | "SIGKILL" | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  elapsedMs: number;
}

/**
 * Runs a one-shot process to completion, stopping it when a deadline passes or `signal`
 * aborts: SIGTERM, then SIGKILL after a grace period. The process gets an empty environment
 * besides `options.env` (no `LD_*` variable, which a scoped `--allow-run` refuses) and no stdin, and both pipes are
 * drained so it can never block on a full one.
 *
 * Only the process itself is signalled, not a process group: `Deno.kill(-pid)` needs
 * unrestricted `--allow-run`, and llama.cpp's executables start no children of their own.
 * It stays in edgellm's process group, so a Ctrl-C in a terminal reaches it too.
 *
 * @example
 * ```ts
 * const result = await runWithDeadline({ command: "/usr/bin/sleep", args: ["10"] }, {
 *   timeoutMs: 1_000,
 * });
 * result.timedOut; // true
 * ```
 */
export async function runWithDeadline(
  line: ExecLine,
  options: RunWithDeadlineOptions = {},
): Promise<RunResult> {
  const started = performance.now();
  const child = new Deno.Command(line.command, {
    args: line.args,
    clearEnv: true,
    env: options.env ?? {},
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  let stopping: "deadline" | "abort" | null = null;
  let stoppedWith: RunResult["stoppedWith"] = null;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = (why: "deadline" | "abort") => {
    if (stopping !== null) return;
    stopping = why;
    stoppedWith = "SIGTERM";
    child.kill("SIGTERM");
    killTimer = setTimeout(() => {
      stoppedWith = "SIGKILL";
      child.kill("SIGKILL");
    }, options.graceMs ?? DEFAULT_GRACE_MS);
  };
  const deadline = options.timeoutMs === undefined
    ? undefined
    : setTimeout(() => stop("deadline"), options.timeoutMs);
  const onAbort = () => stop("abort");
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const status = await child.status;
    return {
      pid: child.pid,
      code: status.code,
      signal: status.signal,
      timedOut: stopping === "deadline",
      aborted: stopping === "abort",
      stoppedWith: stopping === null ? null : stoppedWith,
      stdout: await stdout,
      stderr: await stderr,
      elapsedMs: performance.now() - started,
    };
  } finally {
    clearTimeout(deadline);
    clearTimeout(killTimer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
