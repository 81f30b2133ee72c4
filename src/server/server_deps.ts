import type { Config, ServerConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { JobSnapshot, LogLine, RuntimeEvent, RuntimeSnapshot } from "../supervisor/types.ts";

/** What the endpoint needs of the one-shot jobs (`/jobs`). */
export interface JobControl {
  /**
   * Validates and queues a job.
   * @throws {import("../supervisor/job_spec.ts").InvalidJobError} for a request it refuses.
   */
  submit(input: unknown): Promise<JobSnapshot>;
  /** One job, or `undefined` for an unknown id. */
  get(id: string): JobSnapshot | undefined;
  /** Cancels a job; resolves with its final view once it has ended, `undefined` if unknown. */
  cancel(id: string): Promise<JobSnapshot | undefined>;
}

/**
 * What the HTTP endpoint needs of the supervisor. The real `Supervisor` satisfies it
 * structurally; tests may pass anything that keeps the same contract.
 */
export interface RuntimeSupervisor {
  /**
   * The configuration in use: the one it started with, then each one a reload accepted.
   * Read for every request, so `[server]` limits, the token and each runtime's `parallel`
   * follow SIGHUP.
   */
  config(): Config;
  /** The runtime matrix, in configuration order. Never blocks. */
  list(): readonly RuntimeSnapshot[];
  /** One runtime's row, or `undefined` for an unknown id. */
  get(id: string): RuntimeSnapshot | undefined;
  /**
   * Starts a stopped or failed runtime; resolves once it is `starting`.
   * @throws {import("../supervisor/errors.ts").RuntimeNotFoundError} for an unknown id.
   */
  start(id: string): Promise<RuntimeSnapshot>;
  /** Stops a runtime; resolves once its process is gone. Throws like `start`. */
  stop(id: string): Promise<RuntimeSnapshot>;
  /** Stops, then starts a runtime; resolves once it is `starting`. Throws like `start`. */
  restart(id: string): Promise<RuntimeSnapshot>;
  /** Base URL of a ready llama-server, `undefined` while the runtime is not ready. */
  upstream(id: string): URL | undefined;
  /** Calls `listener` for every state change until the returned function is called. */
  subscribe(listener: (event: RuntimeEvent) => void): () => void;
  /** The last `tail` captured lines of a runtime's output. Throws like `start`. */
  logs(id: string, options: { tail: number }): readonly LogLine[];
  /**
   * Lines captured from this call on, until `signal` aborts (registered at the call, so
   * nothing between `logs()` and `follow()` is lost). Throws like `start`.
   */
  follow(id: string, options: { signal: AbortSignal }): AsyncIterable<LogLine>;
  /** One-shot jobs. */
  readonly jobs: JobControl;
}

/** Everything {@linkcode import("./create_app.ts").createApp} works with. */
export interface ServerDeps {
  /** The runtimes behind the endpoint. */
  supervisor: RuntimeSupervisor;
  /**
   * The bearer token clients must send under a configuration's `[server]` (e.g.
   * {@linkcode import("./server_token.ts").readServerToken}); `undefined` serves without
   * one. Called once for each configuration the supervisor puts in use.
   */
  token: (server: ServerConfig) => string | undefined;
  /** Where request failures are logged. */
  logger: Logger;
  /** Aborting it ends every open event and log stream, so a graceful shutdown can finish. */
  signal?: AbortSignal;
  /**
   * `$EDGELLM_HOME`: `/metrics` reads bootstrap's byte totals from `state/bootstrap.json` under
   * it (`edgellm_bootstrap_bytes_total`). Without it, they are reported as 0.
   */
  home?: string | undefined;
}
