import type { RuntimeConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { backoffDelay } from "./backoff.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { RestartBudget } from "./restart_budget.ts";
import type { RuntimeLog } from "./runtime_log.ts";
import type { ExitStatus, SpawnedChild, SpawnRequest } from "./spawner.ts";
import type { ExitInfo, RuntimeEvent, RuntimeSnapshot, RuntimeState, Severity } from "./types.ts";

/** Everything needed to run one `[runtimes.<id>]`, resolved from the configuration. */
export interface RuntimeSpec {
  readonly id: string;
  /** The model id (`[models.<id>]`). */
  readonly model: string;
  /** Absolute executable: the bundle's loader or `engine_path`. */
  readonly command: string;
  /** Every argument except `--host`/`--port`, which are chosen per spawn. */
  readonly args: readonly string[];
  /** `$EDGELLM_HOME/runtimes/<id>`. */
  readonly cwd: string;
  /** The child's whole environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly runAs?: { readonly uid: number; readonly gid: number } | undefined;
  readonly autoStart: boolean;
  readonly restart: RuntimeConfig["restart"];
  readonly health: RuntimeConfig["health"];
  /** Time between SIGTERM and SIGKILL when stopping. */
  readonly stopGraceMs: number;
}

/** The answer of one probe. */
export interface ProbeResult {
  readonly ok: boolean;
  /** Why it failed, e.g. "HTTP 503" or "no answer within 1000 ms"; "" when ok. */
  readonly reason: string;
}

/** What a probe checks: `/health`, or a one-token completion ("deep"). */
export type ProbeKind = "health" | "deep";

/** The side effects of a runtime; real ones in `supervisor.ts`, fakes in tests. */
export interface RuntimeEffects {
  /** Spawns the child (see {@linkcode Spawner.spawn}). */
  spawn(request: SpawnRequest): Promise<SpawnedChild>;
  /** A loopback port that is free now. */
  freePort(): Promise<number>;
  /** Probes the server on `port`; resolves (never rejects) within about `timeoutMs`. */
  probe(
    port: number,
    kind: ProbeKind,
    options: { timeoutMs: number; signal: AbortSignal },
  ): Promise<ProbeResult>;
  readonly clock: Clock;
  /** Uniform in [0, 1), for backoff jitter. */
  random(): number;
}

/** Options for {@linkcode Runtime}. */
export interface RuntimeOptions {
  readonly effects: RuntimeEffects;
  /** Where the child's output goes. */
  readonly log: RuntimeLog;
  /** Receives every state change, synchronously, in order. */
  readonly onEvent: (event: RuntimeEvent) => void;
  readonly logger?: Logger | undefined;
}

/**
 * While a llama-server starts, `/health` is asked every 10 ms for the first second (a small
 * model is ready in tens of ms; a refused connection costs next to nothing), then every
 * 100 ms; never less often than `interval_ms`.
 */
function startupProbeDelay(elapsedMs: number, intervalMs: number): number {
  return Math.min(elapsedMs < 1000 ? 10 : 100, intervalMs);
}

/** How edgellm itself ends a run: a requested stop, or a failure it detected (health, startup). */
type Ending = { readonly kind: "stop"; readonly reason: string } | {
  readonly kind: "failure";
  readonly reason: string;
  readonly cause: string;
};

/** One spawn of the child, from `starting` until it has exited. */
class Run {
  readonly startedAt: number;
  readonly controller = new AbortController();
  readonly timers = new Set<TimerHandle>();
  readonly exited: Promise<void>;
  readonly failures: Record<ProbeKind, number> = { health: 0, deep: 0 };
  markExited!: () => void;
  child: SpawnedChild | undefined;
  port: number | undefined;
  readyAt: number | undefined;
  ending: Ending | undefined;
  #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.startedAt = clock.now();
    this.exited = new Promise((resolve) => this.markExited = resolve);
  }

  get live(): boolean {
    return !this.controller.signal.aborted;
  }

  /** A stop was requested (checked after each await: `stop()` may run meanwhile). */
  get stopRequested(): boolean {
    return this.ending?.kind === "stop";
  }

  after(ms: number, fn: () => void): void {
    const handle = this.#clock.setTimeout(() => {
      this.timers.delete(handle);
      if (this.live) fn();
    }, ms);
    this.timers.add(handle);
  }

  close(): void {
    this.controller.abort();
    for (const handle of this.timers) this.#clock.clearTimeout(handle);
    this.timers.clear();
    this.markExited();
  }
}

/** Per-state data: a discriminated union on `state`. */
type Phase =
  | { readonly state: "stopped"; readonly reason: string }
  | { readonly state: "failed"; readonly reason: string; readonly label: string }
  | {
    readonly state: "backoff";
    readonly reason: string;
    readonly until: number;
    readonly handle: TimerHandle;
  }
  | {
    readonly state: "starting" | "ready" | "degraded" | "stopping";
    readonly reason: string;
    readonly run: Run;
  };

const SEVERITY: Record<RuntimeState, Severity> = {
  stopped: 0,
  ready: 0,
  starting: 1,
  stopping: 1,
  degraded: 2,
  backoff: 2,
  failed: 3,
};

const SEVERITY_LABEL = ["ok", "info", "warning", "critical"] as const;

/** "exit 1" or "signal SIGKILL". */
function exitCause(status: ExitStatus): string {
  return status.signal === null ? `exit ${status.code}` : `signal ${status.signal}`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/**
 * One supervised llama-server: its state machine, health loop and restart budget.
 *
 * States move only through the private `#setState`, which emits a {@linkcode RuntimeEvent}
 * when (and only when) the state changes. Every asynchronous continuation (spawn, probe,
 * exit, timer) belongs to a `Run` and is dropped once that run has ended, so a late answer
 * can never move a newer run. See `design.md` for the transitions.
 */
export class Runtime {
  readonly #effects: RuntimeEffects;
  readonly #log: RuntimeLog;
  readonly #onEvent: (event: RuntimeEvent) => void;
  readonly #logger: Logger | undefined;
  #spec: RuntimeSpec;
  #budget: RestartBudget;
  #phase: Phase;
  #lastExit: ExitInfo | null = null;
  #lastStderr: string | undefined;
  #restartsTotal = 0;

  /** A runtime in `stopped`; nothing runs until {@linkcode Runtime.start}. */
  constructor(spec: RuntimeSpec, options: RuntimeOptions) {
    this.#spec = spec;
    this.#effects = options.effects;
    this.#log = options.log;
    this.#onEvent = options.onEvent;
    this.#logger = options.logger;
    this.#budget = this.#newBudget();
    this.#phase = { state: "stopped", reason: "not started" };
  }

  /** The runtime's id. */
  get id(): string {
    return this.#spec.id;
  }

  /** What it runs. */
  get spec(): RuntimeSpec {
    return this.#spec;
  }

  /** The current state. */
  get state(): RuntimeState {
    return this.#phase.state;
  }

  /** Its output: ring, followers and rotating file. */
  get log(): RuntimeLog {
    return this.#log;
  }

  #newBudget(): RestartBudget {
    return new RestartBudget(this.#spec.restart.max_restarts, this.#spec.restart.window_s * 1000);
  }

  #run(): Run | undefined {
    return "run" in this.#phase ? this.#phase.run : undefined;
  }

  #setState(next: Phase): void {
    const previous = this.#phase;
    this.#phase = next;
    if (previous.state === next.state) return;
    this.#logger?.info(`runtime ${next.state}`, { runtime: this.id, reason: next.reason });
    this.#onEvent({
      runtime: this.id,
      from: previous.state,
      to: next.state,
      reason: next.reason,
      at: new Date(this.#effects.clock.now()).toISOString(),
    });
  }

  /** The base URL of its llama-server while it is `ready`, else `undefined`. */
  upstream(): URL | undefined {
    const run = this.#run();
    if (this.#phase.state !== "ready" || run?.port === undefined) return undefined;
    return new URL(`http://127.0.0.1:${run.port}/`);
  }

  /** A point-in-time view (the row of `GET /runtimes`). */
  snapshot(): RuntimeSnapshot {
    const now = this.#effects.clock.now();
    const phase = this.#phase;
    const run = this.#run();
    const severity = SEVERITY[phase.state];
    return {
      id: this.id,
      model: this.#spec.model,
      state: phase.state,
      state_label: this.#label(now),
      severity,
      severity_label: SEVERITY_LABEL[severity],
      reason: phase.reason,
      auto_start: this.#spec.autoStart,
      pid: run?.child?.pid ?? null,
      port: run?.child === undefined ? null : run.port ?? null,
      restarts: {
        used: this.#budget.used(now),
        budget: this.#budget.max,
        window_s: this.#spec.restart.window_s,
        total: this.#restartsTotal,
      },
      last_exit: this.#lastExit,
      uptime_s: run?.readyAt === undefined ? null : Math.floor((now - run.readyAt) / 1000),
    };
  }

  #label(now: number): string {
    const phase = this.#phase;
    switch (phase.state) {
      case "stopped":
        return "Stopped";
      case "starting":
        return `Starting – waiting for /health (${seconds(now - phase.run.startedAt)})`;
      case "ready":
        return "Ready";
      case "degraded":
        return `Degraded – ${phase.reason}`;
      case "backoff":
        return `Backoff – restarting in ${seconds(Math.max(0, phase.until - now))} ` +
          `(restart ${this.#budget.used(now)} of ${this.#budget.max})`;
      case "failed":
        return `Failed – ${phase.label}`;
      case "stopping":
        return "Stopping";
    }
  }

  /**
   * Starts it unless it runs already. From `failed` or `stopped` this is a manual start and
   * resets the restart budget; from `backoff` it skips the wait. Resolves once the spawn is
   * under way (state `starting`), not when ready: follow {@linkcode RuntimeEvent}s for that.
   * From `stopping` it first waits for the stop to finish.
   */
  async start(reason = "started by request"): Promise<void> {
    const phase = this.#phase;
    switch (phase.state) {
      case "stopping":
        await phase.run.exited;
        return this.start(reason);
      case "backoff":
        this.#effects.clock.clearTimeout(phase.handle);
        return this.#launch(reason);
      case "stopped":
      case "failed":
        this.#budget.reset();
        return this.#launch(reason);
      default:
        return;
    }
  }

  /**
   * Stops it: SIGTERM, then SIGKILL after `stopGraceMs`. Resolves once the child has exited
   * (state `stopped`). A pending restart in `backoff` is cancelled. Idempotent; in `failed`
   * nothing runs and the state stays `failed` so its reason is kept.
   */
  async stop(reason = "stopped by request"): Promise<void> {
    const phase = this.#phase;
    switch (phase.state) {
      case "stopped":
      case "failed":
        return;
      case "backoff":
        this.#effects.clock.clearTimeout(phase.handle);
        this.#setState({ state: "stopped", reason });
        return;
      case "stopping":
        return await phase.run.exited;
      default: {
        const run = phase.run;
        run.ending = { kind: "stop", reason };
        this.#setState({ state: "stopping", reason, run });
        this.#terminate(run);
        return await run.exited;
      }
    }
  }

  /**
   * Replaces the spec of a runtime that is `stopped` or `failed` (a reload stops it first).
   *
   * @throws {TypeError} while a child runs.
   */
  configure(spec: RuntimeSpec): void {
    if (this.#run() !== undefined || this.#phase.state === "backoff") {
      throw new TypeError(`Cannot reconfigure runtime "${this.id}" while it is ${this.state}`);
    }
    this.#spec = spec;
    this.#budget = this.#newBudget();
  }

  #terminate(run: Run): void {
    const child = run.child;
    if (child === undefined) return; // the spawn in flight sees `ending` and stops it
    child.kill("SIGTERM");
    run.after(this.#spec.stopGraceMs, () => child.kill("SIGKILL"));
  }

  /** Ends a run edgellm has given up on (hung, not ready in time): SIGKILL, no grace. */
  #abandon(run: Run, reason: string, cause: string): void {
    if (run.ending !== undefined) return;
    run.ending = { kind: "failure", reason, cause };
    run.child?.kill("SIGKILL");
  }

  #launch(reason: string): void {
    const run = new Run(this.#effects.clock);
    this.#setState({ state: "starting", reason, run });
    this.#spawn(run);
  }

  async #spawn(run: Run): Promise<void> {
    const spec = this.#spec;
    let child: SpawnedChild;
    this.#lastStderr = undefined;
    try {
      run.port = await this.#effects.freePort();
      if (run.stopRequested) return this.#ended(run, undefined);
      child = await this.#effects.spawn({
        command: spec.command,
        args: [...spec.args, "--host", "127.0.0.1", "--port", String(run.port)],
        cwd: spec.cwd,
        env: spec.env,
        runAs: spec.runAs,
        output: "lines",
        onOutput: (stream, at, lines) => {
          this.#log.append(stream, at, lines);
          if (stream === "stderr") {
            const last = lines.findLast((line) => line.trim() !== "");
            if (last !== undefined) this.#lastStderr = last.trim();
          }
        },
      });
    } catch (error) {
      this.#ended(run, undefined, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    run.child = child;
    child.status.then((status) => this.#ended(run, status));
    if (run.stopRequested) {
      this.#terminate(run);
      return;
    }
    const health = spec.health;
    run.after(health.startup_timeout_s * 1000, () => {
      if (this.#phase.state === "starting") {
        const reason = `not ready within ${health.startup_timeout_s} s`;
        this.#abandon(run, reason, "not ready in time");
      }
    });
    this.#probeUntilReady(run);
  }

  #probe(run: Run, kind: ProbeKind): Promise<ProbeResult> {
    return this.#effects.probe(run.port!, kind, {
      timeoutMs: this.#spec.health.timeout_ms,
      signal: run.controller.signal,
    });
  }

  #probeUntilReady(run: Run): void {
    const health = this.#spec.health;
    const elapsed = this.#effects.clock.now() - run.startedAt;
    run.after(startupProbeDelay(elapsed, health.interval_ms), async () => {
      const result = await this.#probe(run, "health");
      if (!run.live || run.ending !== undefined) return;
      if (!result.ok) return this.#probeUntilReady(run);
      run.readyAt = this.#effects.clock.now();
      this.#setState({ state: "ready", reason: "answering /health", run });
      this.#probeEvery(run, "health", health.interval_ms);
      if (health.deep_interval_ms > 0) this.#probeEvery(run, "deep", health.deep_interval_ms);
    });
  }

  #probeEvery(run: Run, kind: ProbeKind, intervalMs: number): void {
    run.after(intervalMs, async () => {
      const result = await this.#probe(run, kind);
      if (!run.live || run.ending !== undefined) return;
      this.#onProbe(run, kind, result);
      this.#probeEvery(run, kind, intervalMs);
    });
  }

  #onProbe(run: Run, kind: ProbeKind, result: ProbeResult): void {
    if (result.ok) {
      run.failures[kind] = 0;
      if (this.#phase.state === "degraded" && run.failures.health + run.failures.deep === 0) {
        this.#setState({ state: "ready", reason: "health checks pass again", run });
      }
      return;
    }
    const failures = ++run.failures[kind];
    const limit = this.#spec.health.failures_before_restart;
    const what = kind === "health" ? "/health" : "one-token completion";
    const reason = `${what} failed ${failures} of ${limit} times: ${result.reason}`;
    this.#setState({ state: "degraded", reason, run });
    if (failures >= limit) this.#abandon(run, reason, `${what} failing`);
  }

  #ended(run: Run, status: ExitStatus | undefined, error?: Error): void {
    run.close();
    if (this.#run() !== run) return;
    if (status !== undefined) {
      // Says whether a stop was graceful (exit 0) or needed SIGKILL, and how a crash ended.
      this.#logger?.info("runtime process exited", {
        runtime: this.id,
        pid: run.child?.pid,
        code: status.code,
        signal: status.signal,
      });
      this.#lastExit = {
        code: status.code,
        signal: status.signal,
        at: new Date(this.#effects.clock.now()).toISOString(),
        ...(this.#lastStderr === undefined ? {} : { last_stderr: this.#lastStderr }),
      };
    }
    const ending = run.ending;
    if (ending?.kind === "stop") {
      this.#setState({ state: "stopped", reason: ending.reason });
    } else if (error !== undefined) {
      // A refused or impossible spawn (permission, missing file) does not heal by retrying.
      this.#setState({ state: "failed", reason: error.message, label: error.message });
    } else if (ending?.kind === "failure") {
      this.#restartOrFail(ending.reason, ending.cause);
    } else if (status!.spawnerFailure !== undefined) {
      // Not a crash of the child: edgellm lost it, and killed it before restarting.
      this.#restartOrFail(status!.spawnerFailure, "spawner failed");
    } else {
      const cause = exitCause(status!);
      const stderr = this.#lastStderr === undefined ? "" : `; last stderr: ${this.#lastStderr}`;
      this.#restartOrFail(`crashed (${cause})${stderr}`, cause);
    }
  }

  #restartOrFail(reason: string, cause: string): void {
    const now = this.#effects.clock.now();
    const { max_restarts, window_s, backoff_initial_ms, backoff_max_ms } = this.#spec.restart;
    if (!this.#budget.take(now)) {
      const failures = this.#budget.used(now) + 1;
      const label = `crashed ${failures} times in ${window_s} s (${cause})`;
      this.#setState({
        state: "failed",
        reason: `restart budget spent (${max_restarts} in ${window_s} s); last: ${reason}`,
        label,
      });
      return;
    }
    this.#restartsTotal++;
    const delay = backoffDelay(this.#budget.used(now), {
      initialMs: backoff_initial_ms,
      maxMs: backoff_max_ms,
      random: () => this.#effects.random(),
    });
    const handle = this.#effects.clock.setTimeout(
      () => this.#launch(`restarting after: ${reason}`),
      delay,
    );
    this.#setState({ state: "backoff", reason, until: now + delay, handle });
  }
}
