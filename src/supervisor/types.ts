/**
 * The supervisor's public vocabulary, shared with the HTTP endpoint and `status`.
 * Field names of snapshots are the JSON the HTTP API returns (snake_case).
 */

/** The states of a runtime (PRODUCT.md "Runtime states"). */
export type RuntimeState =
  | "stopped"
  | "starting"
  | "ready"
  | "degraded"
  | "backoff"
  | "failed"
  | "stopping";

/** How much a state needs attention: 0 fine, 1 transitional, 2 degraded, 3 failed. */
export type Severity = 0 | 1 | 2 | 3;

/** How a process ended. */
export interface ExitInfo {
  /** Exit code, or `null` when killed by a signal. */
  readonly code: number | null;
  /** Signal name, e.g. "SIGKILL", or `null`. */
  readonly signal: string | null;
  /** ISO timestamp. */
  readonly at: string;
  /** The last line the process wrote to stderr, if any. */
  readonly last_stderr?: string;
}

/** A point-in-time view of one runtime: the row of the runtime matrix. */
export interface RuntimeSnapshot {
  /** The runtime's key under `runtimes` in the config. */
  readonly id: string;
  /** The model it serves: a key under `models` in the config. */
  readonly model: string;
  /** Where it is in its lifecycle; `severity` ranks how much that needs attention. */
  readonly state: RuntimeState;
  /** Human label, e.g. "Failed – crashed 5 times in 300 s (exit 139)". */
  readonly state_label: string;
  /** Derived from `state`: 0 fine, 1 transitional, 2 degraded, 3 failed. */
  readonly severity: Severity;
  /** "ok", "info", "warning" or "critical". */
  readonly severity_label: string;
  /** Why it is in this state (health failure, exit, manual stop …). */
  readonly reason: string;
  /** Whether the supervisor starts it on boot and on reload, or only on request. */
  readonly auto_start: boolean;
  /** Process id of its llama-server, while one runs; `null` otherwise. */
  readonly pid: number | null;
  /** Loopback port of its llama-server, while one runs. */
  readonly port: number | null;
  /**
   * `used` of `budget` restarts within the last `window_s` seconds; `total` counts every
   * automatic restart since edgellm started (a Prometheus counter).
   */
  readonly restarts: {
    /** Automatic restarts within the current window. */
    readonly used: number;
    /** Automatic restarts allowed per window before it goes `failed`. */
    readonly budget: number;
    /** Length of the sliding window, in seconds. */
    readonly window_s: number;
    /** Automatic restarts since edgellm started; never reset. */
    readonly total: number;
  };
  /** How its most recent llama-server ended; `null` until one has exited. */
  readonly last_exit: ExitInfo | null;
  /** Seconds since it last became ready, or `null`. */
  readonly uptime_s: number | null;
}

/** A state change, in the order they happen. */
export interface RuntimeEvent {
  /** Id of the runtime that changed state. */
  readonly runtime: string;
  /** The state it left. */
  readonly from: RuntimeState;
  /** The state it entered. */
  readonly to: RuntimeState;
  /** Why it changed, e.g. the health failure or the exit. */
  readonly reason: string;
  /** ISO timestamp. */
  readonly at: string;
}

/** One captured line of a child's output. */
export interface LogLine {
  /** ISO timestamp of when the line was read. */
  readonly at: string;
  /** Which of the child's pipes it came from. */
  readonly stream: "stdout" | "stderr";
  /** The text, without its trailing newline. */
  readonly line: string;
}

/**
 * The states of a one-shot job. `timed_out` (its deadline passed and it was killed) is
 * distinct from `failed` (it exited non-zero or could not be spawned).
 */
export type JobState =
  | "queued"
  | "running"
  | "succeeded"
  | "failed"
  | "timed_out"
  | "cancelled";

/** A point-in-time view of one job: the JSON of `POST /jobs` and `GET /jobs/:id`. */
export interface JobSnapshot {
  /** Random UUID assigned on submission; the `:id` of `GET /jobs/:id`. */
  readonly id: string;
  /** Where it is in its lifecycle; terminal once not `queued` or `running`. */
  readonly state: JobState;
  /** "inference" (the bundle's llama-completion) or "custom" (`jobs.allow_commands`). */
  readonly kind: "inference" | "custom";
  /** The executable run (the bundle's loader for inference jobs). */
  readonly command: string;
  /** Arguments passed to `command` (for inference jobs, the assembled llama-completion flags). */
  readonly args: readonly string[];
  /** The weighted-fair share it counts against. */
  readonly backend: string;
  /** Lower runs first under the `priority` policy. */
  readonly priority: number;
  /** Reserved from `jobs.resources` while it runs. */
  readonly resources: Readonly<Record<string, number>>;
  /** Its deadline, counted from its start. */
  readonly timeout_s: number;
  /** ISO timestamp of when it was accepted. */
  readonly submitted_at: string;
  /** ISO timestamp of when it was spawned; `null` while queued or if cancelled before starting. */
  readonly started_at: string | null;
  /** ISO timestamp of when it reached a terminal state; `null` until then. */
  readonly ended_at: string | null;
  /** Process id once spawned (kept after it exits); `null` if it never started. */
  readonly pid: number | null;
  /** How its process ended (`code` is `null` when killed by a signal); `null` until it exits. */
  readonly exit: { readonly code: number | null; readonly signal: string | null } | null;
  /** Why it ended the way it did, e.g. "deadline of 2 s passed". */
  readonly reason: string;
  /** Captured stdout, at most the configured cap; `stdout_truncated` tells when cut. */
  readonly stdout: string;
  /** Captured stderr, at most the configured cap; `stderr_truncated` tells when cut. */
  readonly stderr: string;
  /** Whether stdout exceeded the cap and was cut. */
  readonly stdout_truncated: boolean;
  /** Whether stderr exceeded the cap and was cut. */
  readonly stderr_truncated: boolean;
}
