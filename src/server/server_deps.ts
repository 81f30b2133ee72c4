import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { LogLine, RuntimeEvent, RuntimeSnapshot } from "../supervisor/types.ts";

/**
 * What the HTTP endpoint needs of the supervisor. The real `Supervisor` satisfies it
 * structurally; tests may pass anything that keeps the same contract.
 */
export interface RuntimeSupervisor {
  /** The runtime matrix, in configuration order. Never blocks. */
  list(): readonly RuntimeSnapshot[];
  /** One runtime's row, or `undefined` for an unknown id. */
  get(id: string): RuntimeSnapshot | undefined;
  /** Starts a stopped or failed runtime; settles once the start is under way or done. */
  start(id: string): Promise<unknown>;
  /** Stops a runtime and waits until its process is gone. */
  stop(id: string): Promise<unknown>;
  /** Stops, then starts a runtime. */
  restart(id: string): Promise<unknown>;
  /** Base URL of a ready llama-server, `undefined` while the runtime is not ready. */
  upstream(id: string): URL | undefined;
  /** Calls `listener` for every state change until the returned function is called. */
  subscribe(listener: (event: RuntimeEvent) => void): () => void;
  /** The last `tail` captured lines of a runtime's output. */
  logs(id: string, options: { tail: number }): readonly LogLine[];
  /** Lines as they are captured, until `signal` aborts. */
  follow(id: string, options: { signal: AbortSignal }): AsyncIterable<LogLine>;
}

/** Everything {@linkcode import("./create_app.ts").createApp} works with. */
export interface ServerDeps {
  /** The runtimes behind the endpoint. */
  supervisor: RuntimeSupervisor;
  /** The validated configuration (`[server]` limits, each runtime's `parallel` slots). */
  config: Config;
  /** The bearer token clients must send; `undefined` serves without one (loopback only). */
  token?: string | undefined;
  /** Where request failures are logged. */
  logger: Logger;
  /** Aborting it ends every open event and log stream, so a graceful shutdown can finish. */
  signal?: AbortSignal;
  /** Bytes bootstrap downloaded in this process, for `edgellm_bootstrap_bytes_total`. */
  bootstrapBytes?: () => number;
}
