import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { childEnv } from "./child_env.ts";
import { type Clock, SYSTEM_CLOCK, type TimerHandle } from "./clock.ts";
import { InvalidJobError, type JobSpec, parseJobSpec } from "./job_spec.ts";
import type { ExecLine } from "../natives/mod.ts";
import { COMPLETION_ENV, completionArgs } from "../run/completion.ts";
import type { ModelResolver } from "./prepare_config.ts";
import { Scheduler, type SchedulerOptions } from "./scheduler.ts";
import type { ExitStatus, SpawnedChild, Spawner } from "./spawner.ts";
import type { JobSnapshot, JobState } from "./types.ts";

/** Options for {@linkcode JobManager}. */
export interface JobManagerOptions {
  /** The spawner of the current configuration (it changes on reload). */
  spawner: () => Spawner;
  resolveModel: ModelResolver;
  /** Working folder of jobs (`$EDGELLM_HOME/jobs`). */
  cwd: string;
  clock?: Clock;
  logger?: Logger | undefined;
  /** CPUs, for `concurrency = "auto"` and inference threads. @default {navigator.hardwareConcurrency} */
  cpuCount?: number;
  /** Captured output kept per stream. @default {1 MiB} */
  maxOutputBytes?: number;
  /** SIGTERM → SIGKILL grace of a cancelled job. @default {2000} */
  cancelGraceMs?: number;
  /** Finished jobs remembered for `get`. @default {256} */
  retain?: number;
}

/** What a reload hands to the job manager. */
export interface JobsSetup {
  readonly config: Config;
  /** The bundle's llama-completion; `undefined` without a bundle. */
  readonly completion: ExecLine | undefined;
}

interface Job {
  readonly id: string;
  readonly kind: JobSpec["kind"];
  readonly command: string;
  readonly args: readonly string[];
  readonly backend: string;
  readonly priority: number;
  readonly resources: Readonly<Record<string, number>>;
  readonly timeoutS: number;
  readonly submittedAt: number;
  readonly runAs: { uid: number; gid: number } | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly done: Promise<void>;
  markDone: () => void;
  state: JobState;
  startedAt: number | undefined;
  endedAt: number | undefined;
  child: SpawnedChild | undefined;
  pid: number | undefined;
  exit: ExitStatus | undefined;
  /** Set when edgellm ends it: the outcome wins over the exit status. */
  ending: { state: "timed_out" | "cancelled"; reason: string } | undefined;
  reason: string;
  output: Record<"stdout" | "stderr", { text: string; bytes: number; truncated: boolean }>;
  timers: TimerHandle[];
}

const encoder = new TextEncoder();

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function exitReason(status: ExitStatus): string {
  return status.signal === null ? `exited with code ${status.code}` : `killed by ${status.signal}`;
}

/**
 * One-shot launches (`POST /jobs`): validated, queued by the {@linkcode Scheduler}, spawned
 * through the sandboxed {@linkcode Spawner}, killed at their deadline, cancellable. Every way
 * a job can end (success, failure, spawn error, timeout, cancel) goes through one place,
 * which releases its slot and reservations.
 */
export class JobManager {
  readonly #options: JobManagerOptions;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #jobs = new Map<string, Job>();
  readonly #finished: string[] = [];
  #setup: JobsSetup;
  #closed = false;

  /** @throws {RangeError} for a bad `concurrency`. */
  constructor(setup: JobsSetup, options: JobManagerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#setup = setup;
    this.#scheduler = new Scheduler(this.#schedulerOptions(setup));
  }

  #cpus(): number {
    return Math.max(1, this.#options.cpuCount ?? navigator.hardwareConcurrency);
  }

  #schedulerOptions(setup: JobsSetup): SchedulerOptions {
    const jobs = setup.config.jobs;
    return {
      policy: jobs.policy,
      concurrency: jobs.concurrency === "auto" ? this.#cpus() : jobs.concurrency,
      weights: jobs.weights,
      pools: jobs.resources,
    };
  }

  /** Applies a reloaded configuration to later decisions; queued and running jobs stay. */
  configure(setup: JobsSetup): void {
    this.#setup = setup;
    this.#scheduler.reconfigure(this.#schedulerOptions(setup));
    this.#pump();
  }

  /**
   * Validates and queues a job; it starts when the policy picks it.
   *
   * @throws {InvalidJobError} for a bad request, a command not in `jobs.allow_commands`, an
   * unknown model, or a reservation that could never be satisfied.
   */
  async submit(input: unknown): Promise<JobSnapshot> {
    if (this.#closed) throw new InvalidJobError(["edgellm is shutting down"]);
    const spec = parseJobSpec(input);
    const { config, completion } = this.#setup;
    let command: string;
    let args: string[];
    let env = childEnv(this.#options.cwd);
    if (spec.kind === "custom") {
      if (!config.jobs.allow_commands.includes(spec.command)) {
        throw new InvalidJobError([
          `command: "${spec.command}" is not in jobs.allow_commands`,
        ]);
      }
      command = spec.command;
      args = spec.args;
    } else {
      const model = config.models[spec.model];
      if (model === undefined) throw new InvalidJobError([`model: "${spec.model}" is not defined`]);
      if (completion === undefined) {
        throw new InvalidJobError([
          "kind: inference jobs need the llama.cpp bundle, which is absent",
        ]);
      }
      let modelPath: string;
      try {
        modelPath = await this.#options.resolveModel(config, spec.model);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new InvalidJobError([`model: "${spec.model}" is not available: ${reason}`]);
      }
      const threads = spec.resources["cpu"] ??
        Math.max(1, Math.floor(this.#cpus() / this.#schedulerOptions(this.#setup).concurrency));
      command = completion.command;
      args = [
        ...completion.args,
        ...completionArgs({
          model: modelPath,
          prompt: spec.prompt,
          tokens: spec.n_predict,
          threads: Math.max(1, Math.round(threads)),
          seed: spec.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!,
        }),
      ];
      env = { ...env, ...COMPLETION_ENV };
    }
    let markDone!: () => void;
    const done = new Promise<void>((resolve) => markDone = resolve);
    const job: Job = {
      id: crypto.randomUUID(),
      kind: spec.kind,
      command,
      args,
      backend: spec.backend ?? (spec.kind === "inference" ? spec.model : spec.command),
      priority: spec.priority,
      resources: spec.resources,
      timeoutS: spec.timeout_s,
      submittedAt: this.#clock.now(),
      runAs: config.jobs.run_as,
      env,
      done,
      markDone,
      state: "queued",
      startedAt: undefined,
      endedAt: undefined,
      child: undefined,
      pid: undefined,
      exit: undefined,
      ending: undefined,
      reason: "waiting for a slot",
      output: {
        stdout: { text: "", bytes: 0, truncated: false },
        stderr: { text: "", bytes: 0, truncated: false },
      },
      timers: [],
    };
    try {
      this.#scheduler.enqueue(job);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      throw new InvalidJobError([`resources: ${error.message}`]);
    }
    this.#jobs.set(job.id, job);
    this.#pump();
    return this.#snapshot(job);
  }

  /** The job's current view, or `undefined` for an unknown (or long forgotten) id. */
  get(id: string): JobSnapshot | undefined {
    const job = this.#jobs.get(id);
    return job === undefined ? undefined : this.#snapshot(job);
  }

  /** Every remembered job, oldest first. */
  list(): JobSnapshot[] {
    return [...this.#jobs.values()].map((job) => this.#snapshot(job));
  }

  /** Resolves with the job's final view once it has ended; `undefined` for an unknown id. */
  async wait(id: string): Promise<JobSnapshot | undefined> {
    const job = this.#jobs.get(id);
    if (job === undefined) return undefined;
    await job.done;
    return this.#snapshot(job);
  }

  /**
   * Cancels a job: a queued one ends at once; a running one gets SIGTERM, then SIGKILL after
   * the grace. Resolves with its final view (`cancelled`, or how it ended if it was already
   * over); `undefined` for an unknown id.
   */
  async cancel(id: string, reason = "cancelled by request"): Promise<JobSnapshot | undefined> {
    const job = this.#jobs.get(id);
    if (job === undefined) return undefined;
    if (job.state === "queued") {
      this.#scheduler.remove(id);
      job.ending = { state: "cancelled", reason };
      this.#end(job);
    } else if (job.state === "running" && job.ending === undefined) {
      job.ending = { state: "cancelled", reason };
      job.child?.kill("SIGTERM");
      const grace = this.#options.cancelGraceMs ?? 2000;
      job.timers.push(this.#clock.setTimeout(() => job.child?.kill("SIGKILL"), grace));
    }
    await job.done;
    return this.#snapshot(job);
  }

  /** Refuses new jobs, cancels every queued and running one and waits for them to end. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    // Closed first, so no queued job starts when a running one frees its slot.
    const open = [...this.#jobs.values()].filter((job) => job.endedAt === undefined);
    await Promise.all(open.map((job) => this.cancel(job.id, "edgellm stopped")));
  }

  #pump(): void {
    if (this.#closed) return;
    for (const task of this.#scheduler.take()) this.#run(this.#jobs.get(task.id)!);
  }

  async #run(job: Job): Promise<void> {
    job.state = "running";
    job.reason = "running";
    job.startedAt = this.#clock.now();
    // The deadline counts from here, spawn included; a deadline is a hard limit: SIGKILL.
    job.timers.push(this.#clock.setTimeout(() => {
      if (job.endedAt !== undefined || job.ending !== undefined) return;
      job.ending = { state: "timed_out", reason: `deadline of ${job.timeoutS} s passed` };
      job.child?.kill("SIGKILL");
    }, job.timeoutS * 1000));
    const max = this.#options.maxOutputBytes ?? 1024 * 1024;
    try {
      job.child = await this.#options.spawner().spawn({
        command: job.command,
        args: job.args,
        cwd: this.#options.cwd,
        env: job.env,
        runAs: job.runAs,
        output: "text",
        onOutput: (stream, _at, chunks) => {
          const out = job.output[stream];
          for (const chunk of chunks) {
            if (out.truncated) return;
            const bytes = encoder.encode(chunk).length;
            if (out.bytes + bytes > max) {
              out.truncated = true;
              return;
            }
            out.text += chunk;
            out.bytes += bytes;
          }
        },
      });
    } catch (error) {
      job.reason = error instanceof Error ? error.message : String(error);
      this.#end(job);
      return;
    }
    job.pid = job.child.pid;
    // Ended while the spawn was in flight (deadline or cancel): stop it now.
    if (job.ending !== undefined) job.child.kill("SIGKILL");
    job.exit = await job.child.status;
    this.#end(job);
  }

  /** The one way a job ends: state, reason, timers, slot and reservations, waiters. */
  #end(job: Job): void {
    for (const handle of job.timers) this.#clock.clearTimeout(handle);
    job.timers = [];
    job.endedAt = this.#clock.now();
    if (job.ending !== undefined) {
      job.state = job.ending.state;
      job.reason = job.ending.reason;
    } else if (job.exit === undefined) {
      job.state = "failed"; // could not be spawned; job.reason says why
    } else {
      job.state = job.exit.code === 0 ? "succeeded" : "failed";
      job.reason = exitReason(job.exit);
    }
    job.child = undefined;
    this.#scheduler.finish(job.id);
    this.#options.logger?.info(`job ${job.state}`, { job: job.id, reason: job.reason });
    this.#finished.push(job.id);
    while (this.#finished.length > (this.#options.retain ?? 256)) {
      this.#jobs.delete(this.#finished.shift()!);
    }
    job.markDone();
    this.#pump();
  }

  #snapshot(job: Job): JobSnapshot {
    return {
      id: job.id,
      state: job.state,
      kind: job.kind,
      command: job.command,
      args: job.args,
      backend: job.backend,
      priority: job.priority,
      resources: job.resources,
      timeout_s: job.timeoutS,
      submitted_at: iso(job.submittedAt)!,
      started_at: iso(job.startedAt),
      ended_at: iso(job.endedAt),
      pid: job.pid ?? null,
      exit: job.exit === undefined ? null : { code: job.exit.code, signal: job.exit.signal },
      reason: job.reason,
      stdout: job.output.stdout.text,
      stderr: job.output.stderr.text,
      stdout_truncated: job.output.stdout.truncated,
      stderr_truncated: job.output.stderr.truncated,
    };
  }
}
