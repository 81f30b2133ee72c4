import { join } from "node:path";
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { acquireExclusiveLock, type ExclusiveLock, LockHeldError } from "../store/mod.ts";
import { SYSTEM_CLOCK } from "./clock.ts";
import { RuntimeNotFoundError, SupervisorLockedError } from "./errors.ts";
import { JobManager } from "./job_manager.ts";
import type { FollowOptions } from "./log_ring.ts";
import { PidRegistry } from "./pid_registry.ts";
import {
  type ExecLineResolver,
  type ModelResolver,
  prepareConfig,
  type PreparedConfig,
} from "./prepare_config.ts";
import { freePort, probeLlamaServer } from "./probe.ts";
import { planReload, type ReloadPlan } from "./reload_plan.ts";
import { Runtime, type RuntimeEffects, type RuntimeSpec } from "./runtime.ts";
import { RuntimeLog, type RuntimeLogOptions } from "./runtime_log.ts";
import { Spawner } from "./spawner.ts";
import { supervisorPaths } from "./supervisor_paths.ts";
import type { LogLine, RuntimeEvent, RuntimeSnapshot } from "./types.ts";

/** Options for {@linkcode createSupervisor}. */
export interface SupervisorOptions {
  /** Absolute `$EDGELLM_HOME`. */
  home: string;
  /** Exec lines of the verified bundle (the natives runtime). */
  execLine: ExecLineResolver;
  /** Local GGUF path of a `[models.<id>]` (`resolveModelFile` of `src/models`). */
  resolveModel: ModelResolver;
  /** Receives state changes, reloads, job results and the cleanup of leftovers. @default {silent} */
  logger?: Logger | undefined;
  /** Names the configuration in errors, e.g. its path. @default {"configuration"} */
  source?: string | undefined;
  /** SIGTERM → SIGKILL grace when stopping a runtime or a leftover. @default {10000} */
  stopGraceMs?: number;
  /** CPUs for `threads = "auto"` and `concurrency = "auto"`. @default {navigator.hardwareConcurrency} */
  cpuCount?: number;
  /** Size caps of each runtime's log. */
  log?: RuntimeLogOptions;
  /** util-linux `setpriv` for PR_SET_PDEATHSIG, or `null` to spawn directly. @default {SETPRIV_PATH if it may be run} */
  setpriv?: string | null;
}

/** Options for {@linkcode Supervisor.logs}. */
export interface LogsOptions {
  /** The last N lines. @default {100} */
  tail?: number;
}

/**
 * Starts the supervisor: takes the home's lock (one supervisor per home), stops what a
 * killed previous instance left running, checks the configuration, and starts every
 * `auto_start` runtime (without waiting for them to be ready).
 *
 * @throws {SupervisorLockedError} when another supervisor uses this home.
 * @throws {import("../config/mod.ts").ConfigError} when the configuration cannot run.
 *
 * @example
 * ```ts
 * const supervisor = await createSupervisor(config, { home, execLine, resolveModel });
 * supervisor.subscribe((event) => console.log(event.runtime, event.to));
 * // …
 * await supervisor.shutdown();
 * ```
 */
export async function createSupervisor(
  config: Config,
  options: SupervisorOptions,
): Promise<Supervisor> {
  const paths = supervisorPaths(options.home);
  let lock: ExclusiveLock;
  try {
    lock = await acquireExclusiveLock(paths.lock);
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    throw new SupervisorLockedError(error.path, error.pid);
  }
  try {
    const registry = new PidRegistry(paths.children);
    const stopGraceMs = options.stopGraceMs ?? 10_000;
    await registry.stopLeftovers({
      graceMs: stopGraceMs,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    const prepared = await prepareConfig(config, {
      home: options.home,
      execLine: options.execLine,
      resolveModel: options.resolveModel,
      stopGraceMs,
      source: options.source ?? "configuration",
      ...(options.cpuCount === undefined ? {} : { cpuCount: options.cpuCount }),
      logger: options.logger,
    });
    const supervisor = new Supervisor(prepared, { ...options, stopGraceMs }, { lock, registry });
    await supervisor.startAutoStart();
    return supervisor;
  } catch (error) {
    lock.release();
    throw error;
  }
}

/**
 * Supervises the runtimes and jobs of one configuration. Built by
 * {@linkcode createSupervisor}; see `mod.ts` for the contract of each method.
 */
export class Supervisor {
  /** One-shot launches: `submit`, `get`, `cancel`, `wait`. */
  readonly jobs: JobManager;
  readonly #options: SupervisorOptions & { stopGraceMs: number };
  readonly #lock: ExclusiveLock;
  readonly #registry: PidRegistry;
  readonly #runtimes = new Map<string, Runtime>();
  readonly #listeners = new Set<(event: RuntimeEvent) => void>();
  readonly #effects: RuntimeEffects;
  #spawner: Spawner;
  /**
   * Control calls (start, stop, restart), reloads and the shutdown run one at a time, in call
   * order: none sees another half done.
   */
  #serial: Promise<unknown> = Promise.resolve();
  #closed = false;
  #shutdown: Promise<void> | undefined;
  #config: Config;
  readonly #jobsDir: string;

  /** Use {@linkcode createSupervisor}. */
  constructor(
    prepared: PreparedConfig,
    options: SupervisorOptions & { stopGraceMs: number },
    held: { lock: ExclusiveLock; registry: PidRegistry },
  ) {
    this.#options = options;
    this.#lock = held.lock;
    this.#registry = held.registry;
    this.#config = prepared.config;
    this.#spawner = this.#newSpawner(prepared.runPaths);
    this.#effects = {
      spawn: (request) => this.#currentSpawner().spawn(request),
      freePort: () => Promise.resolve(freePort()),
      probe: probeLlamaServer,
      clock: SYSTEM_CLOCK,
      random: Math.random,
    };
    const jobsDir = supervisorPaths(options.home).jobs;
    Deno.mkdirSync(jobsDir, { recursive: true });
    this.#jobsDir = jobsDir;
    this.#ownJobsDir(prepared);
    this.jobs = new JobManager(prepared, {
      spawner: () => this.#currentSpawner(),
      resolveModel: options.resolveModel,
      cwd: jobsDir,
      logger: options.logger?.child({ component: "jobs" }),
      ...(options.cpuCount === undefined ? {} : { cpuCount: options.cpuCount }),
    });
    for (const spec of prepared.runtimes.values()) this.#addRuntime(spec);
  }

  #newSpawner(run: readonly string[]): Spawner {
    return new Spawner({
      run,
      registry: this.#registry,
      logger: this.#options.logger?.child({ component: "spawner" }),
      ...(this.#options.setpriv === undefined ? {} : { setpriv: this.#options.setpriv }),
    });
  }

  /** The spawner for new children; one whose Worker failed is replaced (until shutdown). */
  #currentSpawner(): Spawner {
    if (this.#spawner.closed && !this.#closed) {
      this.#spawner = this.#newSpawner(this.#spawner.run);
    }
    return this.#spawner;
  }

  /** Jobs run in the jobs folder; a `run_as` user must be able to work there. */
  #ownJobsDir(prepared: PreparedConfig): void {
    const runAs = prepared.config.jobs.run_as;
    if (runAs !== undefined) Deno.chownSync(this.#jobsDir, runAs.uid, runAs.gid);
  }

  #addRuntime(spec: RuntimeSpec): Runtime {
    const log = new RuntimeLog(join(spec.cwd, "output.log"), {
      ...this.#options.log,
      logger: this.#options.logger?.child({ runtime: spec.id }),
    });
    if (spec.runAs !== undefined) Deno.chownSync(spec.cwd, spec.runAs.uid, spec.runAs.gid);
    const runtime = new Runtime(spec, {
      effects: this.#effects,
      log,
      onEvent: (event) => this.#emit(event),
      logger: this.#options.logger,
    });
    this.#runtimes.set(spec.id, runtime);
    return runtime;
  }

  #emit(event: RuntimeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#options.logger?.error("a runtime event listener threw", { error });
      }
    }
  }

  #runtime(id: string): Runtime {
    const runtime = this.#runtimes.get(id);
    if (runtime === undefined) throw new RuntimeNotFoundError(id);
    return runtime;
  }

  /** Starts every `auto_start` runtime; called once by {@linkcode createSupervisor}. */
  async startAutoStart(): Promise<void> {
    await Promise.all(
      [...this.#runtimes.values()].filter((r) => r.spec.autoStart).map((r) =>
        r.start("auto_start")
      ),
    );
  }

  /**
   * The configuration in use: the one it was created with, then the last one a reload
   * accepted (from the moment the reload starts applying it). The HTTP endpoint reads its
   * limits here, so SIGHUP reaches it too.
   */
  config(): Config {
    return this.#config;
  }

  /** Every runtime's snapshot, in configuration order. */
  list(): RuntimeSnapshot[] {
    return [...this.#runtimes.values()].map((runtime) => runtime.snapshot());
  }

  /** One runtime's snapshot, or `undefined` for an unknown id. */
  get(id: string): RuntimeSnapshot | undefined {
    return this.#runtimes.get(id)?.snapshot();
  }

  /**
   * Starts a runtime (a manual start: from `failed` this resets its restart budget).
   * Resolves once it is `starting` (or already running), not when ready. Waits for a reload
   * or another control call in progress; does nothing once shutting down.
   *
   * @throws {RuntimeNotFoundError} for an unknown id (also one a pending reload removes).
   */
  async start(id: string): Promise<RuntimeSnapshot> {
    this.#runtime(id); // an unknown id is refused at once, not after a reload in progress
    return await this.#control(id, async (runtime) => {
      if (!this.#closed) await runtime.start();
    });
  }

  /**
   * Stops a runtime: SIGTERM, grace, SIGKILL. Resolves once its process has exited. Waits
   * for a reload or another control call in progress.
   *
   * @throws {RuntimeNotFoundError} for an unknown id (also one a pending reload removes).
   */
  async stop(id: string): Promise<RuntimeSnapshot> {
    this.#runtime(id); // an unknown id is refused at once, not after a reload in progress
    return await this.#control(id, (runtime) => runtime.stop());
  }

  /**
   * Stops and starts a runtime (a manual start: the budget is reset). Resolves once the new
   * process is `starting`. Waits for a reload or another control call in progress; a
   * shutdown called meanwhile wins: nothing is started after it.
   *
   * @throws {RuntimeNotFoundError} for an unknown id (also one a pending reload removes).
   */
  async restart(id: string): Promise<RuntimeSnapshot> {
    this.#runtime(id); // an unknown id is refused at once, not after a reload in progress
    return await this.#control(id, async (runtime) => {
      if (this.#closed) return;
      await runtime.stop("restarting by request");
      if (!this.#closed) await runtime.start("restarted by request");
    });
  }

  /** Runs `action` on runtime `id` in turn with reloads, the shutdown and other control calls. */
  #control(
    id: string,
    action: (runtime: Runtime) => Promise<void>,
  ): Promise<RuntimeSnapshot> {
    return this.#enqueue(async () => {
      const runtime = this.#runtime(id);
      await action(runtime);
      return runtime.snapshot();
    });
  }

  /** Base URL of the runtime's llama-server while it is `ready`, else `undefined`. */
  upstream(id: string): URL | undefined {
    return this.#runtimes.get(id)?.upstream();
  }

  /**
   * Calls `listener` with every state change of every runtime, synchronously and in order.
   * Returns the function that unsubscribes.
   */
  subscribe(listener: (event: RuntimeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The last lines a runtime's children printed, oldest first.
   *
   * @throws {RuntimeNotFoundError} for an unknown id.
   */
  logs(id: string, options: LogsOptions = {}): LogLine[] {
    return this.#runtime(id).log.ring.tail(options.tail ?? 100);
  }

  /**
   * New lines of a runtime's children as they come, until `options.signal` aborts or the
   * runtime is removed by a reload. Read {@linkcode Supervisor.logs} first for history.
   *
   * @throws {RuntimeNotFoundError} for an unknown id.
   */
  follow(id: string, options: FollowOptions = {}): AsyncIterableIterator<LogLine> {
    return this.#runtime(id).log.ring.follow(options);
  }

  /**
   * Applies a new configuration: new runtimes start, changed ones restart, removed ones and
   * those now `auto_start = false` stop gracefully, unchanged ones are not touched. The new
   * configuration is checked in full first; if it is refused, nothing changes.
   *
   * @throws {import("../config/mod.ts").ConfigError} when the configuration cannot run.
   */
  reload(config: Config): Promise<ReloadPlan> {
    return this.#enqueue(async () => {
      if (this.#closed) throw new TypeError("Cannot reload: the supervisor has shut down");
      const prepared = await prepareConfig(config, {
        home: this.#options.home,
        execLine: this.#options.execLine,
        resolveModel: this.#options.resolveModel,
        stopGraceMs: this.#options.stopGraceMs,
        source: this.#options.source ?? "configuration",
        ...(this.#options.cpuCount === undefined ? {} : { cpuCount: this.#options.cpuCount }),
        logger: this.#options.logger,
      });
      const current = new Map([...this.#runtimes].map(([id, runtime]) => [id, runtime.spec]));
      const plan = planReload(current, prepared.runtimes);
      this.#config = prepared.config;
      this.#options.logger?.info("reloading the configuration", { ...plan });
      if (prepared.runPaths.join("\n") !== this.#spawner.run.join("\n")) {
        // Children of the old spawner keep their handles; it retires when the last one exits.
        const old = this.#spawner;
        this.#spawner = this.#newSpawner(prepared.runPaths);
        old.closeWhenIdle();
      }
      this.#ownJobsDir(prepared);
      this.jobs.configure(prepared);
      await Promise.all([
        ...plan.removed.map(async (id) => {
          const runtime = this.#runtime(id);
          await runtime.stop("removed from the configuration");
          runtime.log.close();
          this.#runtimes.delete(id);
        }),
        ...plan.changed.map(async (id) => {
          const runtime = this.#runtime(id);
          const spec = prepared.runtimes.get(id)!;
          await runtime.stop(
            spec.autoStart ? "configuration changed" : "auto_start turned off",
          );
          runtime.configure(spec);
          if (spec.autoStart) await runtime.start("configuration changed");
        }),
        ...plan.added.map(async (id) => {
          const runtime = this.#addRuntime(prepared.runtimes.get(id)!);
          if (runtime.spec.autoStart) await runtime.start("added by a reload");
        }),
      ]);
      return plan;
    });
  }

  /**
   * Cancels every job, stops every runtime (each within its grace), ends log followers,
   * releases the home's lock. Idempotent; later `start`s do nothing.
   */
  shutdown(): Promise<void> {
    this.#closed = true;
    return this.#shutdown ??= this.#enqueue(async () => {
      await Promise.all([
        this.jobs.shutdown(),
        ...[...this.#runtimes.values()].map((runtime) => runtime.stop("edgellm is stopping")),
      ]);
      for (const runtime of this.#runtimes.values()) runtime.log.close();
      this.#spawner.close();
      this.#lock.release();
    });
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#serial.then(task);
    this.#serial = result.catch(() => undefined);
    return result;
  }
}
