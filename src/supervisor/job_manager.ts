import { errorMessage } from "../_util/error_message.ts";
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { ExecLine } from "../natives/mod.ts";
import { completionArgs } from "../run/completion.ts";
import { MAX_COMPLETION_ATTEMPTS, runCompletion } from "../run/run_completion.ts";
import { childEnv } from "./child_env.ts";
import { InvalidJobError, type JobSpec, parseJobSpec } from "./job_spec.ts";
import type { ModelResolver } from "./prepare_config.ts";
import {
  DEFAULT_GRACE_MS,
  type OneShotOutput,
  type OneShotRequest,
  type OneShotResult,
  runOneShot,
  type RunOneShotOptions,
} from "./run_one_shot.ts";
import { Scheduler, type SchedulerOptions } from "./scheduler.ts";
import type { ExitStatus, Spawner } from "./spawner.ts";
import type { JobSnapshot, JobState } from "./types.ts";

/** Options for {@linkcode JobManager}. */
export interface JobManagerOptions {
  /** The spawner of the current configuration (it changes on reload). */
  spawner: () => Spawner;
  /** Local GGUF path of an inference job's `model`; a throw rejects the job as unavailable. */
  resolveModel: ModelResolver;
  /** Working folder of jobs (`$EDGELLM_HOME/state/jobs`). */
  cwd: string;
  /** Receives one line per finished job (state and reason). @default {silent} */
  logger?: Logger | undefined;
  /** CPUs, for `concurrency = "auto"` and inference threads. @default {navigator.hardwareConcurrency} */
  cpuCount?: number;
  /** Captured output kept per stream. @default {1 MiB} */
  maxOutputBytes?: number;
  /** SIGTERM → SIGKILL grace of a job stopped at its deadline or cancelled. @default DEFAULT_GRACE_MS */
  graceMs?: number;
  /** Finished jobs remembered for `get`. @default {256} */
  retain?: number;
}

/** What a reload hands to the job manager. */
export interface JobsSetup {
  /** The validated configuration: its `jobs` table and the models inference jobs may use. */
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
  /** Aborted by `cancel`: stops the running process (SIGTERM, grace, SIGKILL). */
  readonly cancel: AbortController;
  /** Why it was cancelled; set with `cancel.abort()`. */
  cancelReason: string | undefined;
  state: JobState;
  startedAt: number | undefined;
  endedAt: number | undefined;
  pid: number | undefined;
  exit: OneShotResult | undefined;
  reason: string;
  /** The current (or last) process's output, filled while it runs. */
  output: Readonly<OneShotOutput>;
}

const NO_OUTPUT: Readonly<OneShotOutput> = {
  stdout: "",
  stderr: "",
  stdoutTruncated: false,
  stderrTruncated: false,
};

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function exitReason(status: ExitStatus): string {
  if (status.spawnerFailure !== undefined) return status.spawnerFailure;
  return status.signal === null ? `exited with code ${status.code}` : `killed by ${status.signal}`;
}

/**
 * One-shot launches (`POST /jobs`): validated, queued by the {@linkcode Scheduler}, run by
 * {@linkcode runOneShot} through the sandboxed {@linkcode Spawner} (inference jobs by
 * `runCompletion`, which reruns a cut-short output), stopped at their deadline, cancellable.
 * Every way a job can end (success, failure, spawn error, timeout, cancel) goes through one
 * place, which releases its slot and reservations.
 */
export class JobManager {
  readonly #options: JobManagerOptions;
  readonly #scheduler: Scheduler;
  readonly #jobs = new Map<string, Job>();
  readonly #finished: string[] = [];
  #setup: JobsSetup;
  #closed = false;

  /**
   * Creates an idle manager; nothing runs until a job is submitted.
   *
   * @throws {RangeError} for a bad `concurrency`.
   */
  constructor(setup: JobsSetup, options: JobManagerOptions) {
    this.#options = options;
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
    const env = childEnv(this.#options.cwd);
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
        const reason = errorMessage(error);
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
      submittedAt: Date.now(),
      runAs: config.jobs.run_as,
      env,
      done,
      markDone,
      cancel: new AbortController(),
      cancelReason: undefined,
      state: "queued",
      startedAt: undefined,
      endedAt: undefined,
      pid: undefined,
      exit: undefined,
      reason: "waiting for a slot",
      output: NO_OUTPUT,
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
    if (job.endedAt === undefined && job.cancelReason === undefined) {
      job.cancelReason = reason;
      job.cancel.abort();
      if (job.state === "queued") {
        this.#scheduler.remove(id);
        this.#end(job);
      }
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
    job.startedAt = Date.now();
    const request: OneShotRequest = {
      command: job.command,
      args: job.args,
      cwd: this.#options.cwd,
      env: job.env,
      runAs: job.runAs,
    };
    const options: RunOneShotOptions = {
      // The deadline counts from here, spawn included.
      timeoutMs: job.timeoutS * 1000,
      graceMs: this.#options.graceMs ?? DEFAULT_GRACE_MS,
      signal: job.cancel.signal,
      maxOutputBytes: this.#options.maxOutputBytes ?? 1024 * 1024,
      onSpawn: (child, output) => {
        job.pid = child.pid;
        job.output = output;
      },
    };
    const spawner = this.#options.spawner();
    let cutShort = false;
    try {
      if (job.kind === "inference") {
        const run = await runCompletion(spawner, request, options);
        job.exit = run.result;
        cutShort = run.result.code === 0 && run.completion.stats === null;
      } else {
        job.exit = await runOneShot(spawner, request, options);
      }
    } catch (error) {
      job.reason = errorMessage(error);
    }
    this.#end(job, cutShort);
  }

  /**
   * The one way a job ends: state, reason, slot and reservations, waiters. Its deadline or a
   * cancel, whichever stopped it first, wins over the exit status.
   */
  #end(job: Job, cutShort = false): void {
    job.endedAt = Date.now();
    const stoppedBy = job.exit?.stoppedBy ?? (job.cancelReason === undefined ? null : "abort");
    if (stoppedBy === "deadline") {
      job.state = "timed_out";
      job.reason = `deadline of ${job.timeoutS} s passed`;
    } else if (stoppedBy === "abort") {
      job.state = "cancelled";
      job.reason = job.cancelReason!;
    } else if (job.exit === undefined) {
      job.state = "failed"; // could not be spawned; job.reason says why
    } else if (cutShort) {
      job.state = "failed";
      job.reason = `llama-completion cut its output short ${MAX_COMPLETION_ATTEMPTS} times ` +
        `in a row (its logging thread was starved of CPU)`;
    } else {
      job.state = job.exit.code === 0 ? "succeeded" : "failed";
      job.reason = exitReason(job.exit);
    }
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
      stdout: job.output.stdout,
      stderr: job.output.stderr,
      stdout_truncated: job.output.stdoutTruncated,
      stderr_truncated: job.output.stderrTruncated,
    };
  }
}
