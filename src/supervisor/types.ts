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
  readonly id: string;
  readonly model: string;
  readonly state: RuntimeState;
  /** Human label, e.g. "Failed – crashed 5 times in 300 s (exit 139)". */
  readonly state_label: string;
  readonly severity: Severity;
  /** "ok", "info", "warning" or "critical". */
  readonly severity_label: string;
  /** Why it is in this state (health failure, exit, manual stop …). */
  readonly reason: string;
  readonly auto_start: boolean;
  readonly pid: number | null;
  /** Loopback port of its llama-server, while one runs. */
  readonly port: number | null;
  /**
   * `used` of `budget` restarts within the last `window_s` seconds; `total` counts every
   * automatic restart since edgellm started (a Prometheus counter).
   */
  readonly restarts: {
    readonly used: number;
    readonly budget: number;
    readonly window_s: number;
    readonly total: number;
  };
  readonly last_exit: ExitInfo | null;
  /** Seconds since it last became ready, or `null`. */
  readonly uptime_s: number | null;
}

/** A state change, in the order they happen. */
export interface RuntimeEvent {
  readonly runtime: string;
  readonly from: RuntimeState;
  readonly to: RuntimeState;
  readonly reason: string;
  /** ISO timestamp. */
  readonly at: string;
}

/** One captured line of a child's output. */
export interface LogLine {
  /** ISO timestamp of when the line was read. */
  readonly at: string;
  readonly stream: "stdout" | "stderr";
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
  readonly id: string;
  readonly state: JobState;
  /** "inference" (the bundle's llama-completion) or "custom" (`jobs.allow_commands`). */
  readonly kind: "inference" | "custom";
  /** The executable run (the bundle's loader for inference jobs). */
  readonly command: string;
  readonly args: readonly string[];
  /** The weighted-fair share it counts against. */
  readonly backend: string;
  /** Lower runs first under the `priority` policy. */
  readonly priority: number;
  /** Reserved from `jobs.resources` while it runs. */
  readonly resources: Readonly<Record<string, number>>;
  /** Its deadline, counted from its start. */
  readonly timeout_s: number;
  /** ISO timestamps. */
  readonly submitted_at: string;
  readonly started_at: string | null;
  readonly ended_at: string | null;
  readonly pid: number | null;
  readonly exit: { readonly code: number | null; readonly signal: string | null } | null;
  /** Why it ended the way it did, e.g. "deadline of 2 s passed". */
  readonly reason: string;
  /** Captured output, at most the configured cap each; `*_truncated` tells when cut. */
  readonly stdout: string;
  readonly stderr: string;
  readonly stdout_truncated: boolean;
  readonly stderr_truncated: boolean;
}
