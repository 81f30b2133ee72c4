/**
 * Helpers of the HTTP endpoint's tests: a supervisor whose states the test sets by hand, and
 * a real llama-server started straight from the bundle.
 *
 * @module
 */
import { parseConfig } from "../../../src/config/mod.ts";
import type { Config } from "../../../src/config/mod.ts";
import type { JobControl, RuntimeSupervisor } from "../../../src/server/mod.ts";
import { parseJobSpec, RuntimeNotFoundError } from "../../../src/supervisor/mod.ts";
import type {
  JobSnapshot,
  LogLine,
  RuntimeEvent,
  RuntimeSnapshot,
  RuntimeState,
} from "../../../src/supervisor/types.ts";
import { subscription } from "../../../src/server/sse.ts";
import { spawnEdgellm } from "../../_util/cli.ts";
import { writeTinyModel } from "../../_util/tiny_model.ts";

interface Runtime {
  snapshot: RuntimeSnapshot;
  upstream: URL | undefined;
  logs: LogLine[];
}

/**
 * A {@linkcode RuntimeSupervisor} whose runtimes and states the test sets: route tests need
 * exact states (ready, starting, …) at exact moments without processes behind them.
 * Control calls are recorded in {@linkcode ManualSupervisor.calls}.
 */
export class ManualSupervisor implements RuntimeSupervisor {
  readonly #runtimes = new Map<string, Runtime>();
  readonly #listeners = new Set<(event: RuntimeEvent) => void>();
  readonly #logListeners = new Set<(entry: [string, LogLine]) => void>();
  /** `"<action> <id>"` for every start/stop/restart, in order. */
  readonly calls: string[] = [];
  #config: Config;

  /** A supervisor of no runtimes yet, using `config`. */
  constructor(config: Config = testConfig()) {
    this.#config = config;
  }

  /** Puts `config` in use, as an accepted reload does (runtimes are added by hand). */
  reload(config: Config): void {
    this.#config = config;
  }

  /** Adds a runtime in state `stopped` (or `ready` at `upstream` when given). */
  add(id: string, model: string, upstream?: URL, autoStart = true): void {
    this.#runtimes.set(id, {
      snapshot: {
        id,
        model,
        state: upstream ? "ready" : "stopped",
        state_label: upstream ? "Ready" : "Stopped",
        severity: 0,
        severity_label: "ok",
        reason: "",
        auto_start: autoStart,
        pid: null,
        port: upstream ? Number(upstream.port) : null,
        restarts: { used: 0, budget: 5, window_s: 300, total: 0 },
        last_exit: null,
        uptime_s: null,
      },
      upstream,
      logs: [],
    });
  }

  /** Moves a runtime to `state` (ready ones need `upstream`) and emits the event. */
  setState(id: string, state: RuntimeState, upstream?: URL): void {
    const runtime = this.#runtime(id);
    const from = runtime.snapshot.state;
    runtime.snapshot = { ...runtime.snapshot, state, state_label: state, reason: `test: ${state}` };
    runtime.upstream = state === "ready" ? upstream ?? runtime.upstream : undefined;
    const event = {
      runtime: id,
      from,
      to: state,
      reason: `test: ${state}`,
      at: new Date().toISOString(),
    };
    for (const listener of this.#listeners) listener(event);
  }

  /** Counts an automatic restart, as the supervisor's snapshot does. */
  countRestart(id: string): void {
    const runtime = this.#runtime(id);
    const { restarts } = runtime.snapshot;
    runtime.snapshot = {
      ...runtime.snapshot,
      restarts: { ...restarts, total: restarts.total + 1 },
    };
  }

  /** Appends a captured line to a runtime's log. */
  log(id: string, line: string): void {
    const entry: LogLine = { at: new Date().toISOString(), stream: "stderr", line };
    this.#runtime(id).logs.push(entry);
    for (const listener of this.#logListeners) listener([id, entry]);
  }

  #runtime(id: string): Runtime {
    const runtime = this.#runtimes.get(id);
    if (!runtime) throw new RuntimeNotFoundError(id);
    return runtime;
  }

  config(): Config {
    return this.#config;
  }
  list(): RuntimeSnapshot[] {
    return [...this.#runtimes.values()].map((r) => r.snapshot);
  }
  get(id: string): RuntimeSnapshot | undefined {
    return this.#runtimes.get(id)?.snapshot;
  }
  start(id: string): Promise<RuntimeSnapshot> {
    return this.#control("start", id);
  }
  stop(id: string): Promise<RuntimeSnapshot> {
    return this.#control("stop", id);
  }
  restart(id: string): Promise<RuntimeSnapshot> {
    return this.#control("restart", id);
  }
  #control(action: string, id: string): Promise<RuntimeSnapshot> {
    try {
      const { snapshot } = this.#runtime(id);
      this.calls.push(`${action} ${id}`);
      return Promise.resolve(snapshot);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  upstream(id: string): URL | undefined {
    return this.#runtimes.get(id)?.upstream;
  }
  subscribe(listener: (event: RuntimeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  /** Number of current subscribers, to prove streams unsubscribe. */
  get subscribers(): number {
    return this.#listeners.size;
  }
  /** Number of open `follow()` iterations. */
  get followers(): number {
    return this.#logListeners.size;
  }
  logs(id: string, options: { tail: number }): LogLine[] {
    return options.tail === 0 ? [] : this.#runtime(id).logs.slice(-options.tail);
  }
  follow(id: string, options: { signal: AbortSignal }): AsyncGenerator<LogLine> {
    this.#runtime(id);
    // Subscribed at the call, like the supervisor's log ring.
    const entries = subscription<[string, LogLine]>((listener) => {
      this.#logListeners.add(listener);
      return () => this.#logListeners.delete(listener);
    }, options);
    return (async function* () {
      for await (const [runtime, line] of entries) if (runtime === id) yield line;
    })();
  }
  /** Jobs kept in memory: validated like the supervisor's, never run. */
  readonly jobs: JobControl = new RecordedJobs();
}

/** A {@linkcode JobControl} that validates and records jobs; they stay queued until cancelled. */
class RecordedJobs implements JobControl {
  readonly #jobs = new Map<string, JobSnapshot>();

  submit(input: unknown): Promise<JobSnapshot> {
    try {
      const spec = parseJobSpec(input);
      const id = `job-${this.#jobs.size + 1}`;
      const job: JobSnapshot = {
        id,
        state: "queued",
        kind: spec.kind,
        command: spec.kind === "custom" ? spec.command : "llama-completion",
        args: spec.kind === "custom" ? spec.args : [],
        backend: spec.backend ?? "default",
        priority: spec.priority,
        resources: spec.resources,
        timeout_s: spec.timeout_s,
        submitted_at: new Date().toISOString(),
        started_at: null,
        ended_at: null,
        pid: null,
        exit: null,
        reason: "",
        stdout: "",
        stderr: "",
        stdout_truncated: false,
        stderr_truncated: false,
      };
      this.#jobs.set(id, job);
      return Promise.resolve(job);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  get(id: string): JobSnapshot | undefined {
    return this.#jobs.get(id);
  }
  cancel(id: string): Promise<JobSnapshot | undefined> {
    const job = this.#jobs.get(id);
    if (job === undefined) return Promise.resolve(undefined);
    const cancelled: JobSnapshot = { ...job, state: "cancelled", reason: "cancelled by request" };
    this.#jobs.set(id, cancelled);
    return Promise.resolve(cancelled);
  }
}

/** A validated configuration from TOML text. */
export function testConfig(toml = ""): Config {
  return parseConfig(toml);
}

/** Writes a tiny model that generates whatever number of tokens is asked, in `dir`. */
export async function tinyModel(dir: string, contextLength = 2048): Promise<string> {
  const path = `${dir}/tiny.gguf`;
  await writeTinyModel(path, { contextLength });
  return path;
}

/** A running `edgellm serve` (the real CLI under the product's permission flags). */
export interface RunningServe {
  /** Where its HTTP endpoint listens, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly child: Deno.ChildProcess;
  /** Its log so far (JSON lines). */
  log(): string;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit code once its output ended. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Options for {@linkcode startServe}. */
export interface StartServeOptions {
  /** The environment of serve, e.g. its token. @default {{}} */
  env?: Record<string, string>;
  /** Further arguments of `serve`. @default {[]} */
  args?: string[];
}

/**
 * Runs `edgellm serve --port 0` with `config` and resolves once its HTTP endpoint listens.
 *
 * @throws {Error} with its log when it exits first.
 */
export async function startServe(
  home: string,
  config: string,
  options: StartServeOptions = {},
): Promise<RunningServe> {
  const child = await spawnEdgellm(["serve", "--port", "0", ...(options.args ?? [])], {
    home,
    config,
    env: options.env ?? {},
  });
  let log = "";
  const { promise: listening, resolve, reject } = Promise.withResolvers<string>();
  const drained = Promise.all([
    (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        log += text;
        const url = log.match(/"msg":"listening".*?"url":"([^"]+)"/)?.[1];
        if (url) resolve(url);
      }
    })(),
    child.stdout.cancel(),
  ]);
  child.status.then((s) => reject(new Error(`serve exited with ${s.code}:\n${log}`)));
  async function stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
    const { code } = await child.status;
    await drained;
    return code;
  }
  try {
    return { url: await listening, child, log: () => log, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
