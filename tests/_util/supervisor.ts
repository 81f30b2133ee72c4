/**
 * Helpers for tests (and benchmarks) of the supervisor: a temporary home with a tiny model,
 * stand-in engines for crash patterns, and waiting on runtime events instead of sleeping.
 *
 * @module
 */
import { type Config, parseConfig } from "../../src/config/mod.ts";
import {
  createSupervisor,
  type Supervisor,
  type SupervisorOptions,
} from "../../src/supervisor/mod.ts";
import type { RuntimeEvent } from "../../src/supervisor/types.ts";
import { bundledTool } from "./natives.ts";
import { assertNoProcesses } from "./processes.ts";
import { writeTinyModel } from "./tiny_model.ts";

/** A temporary folder with `home/` and a generated model at `model`. */
export interface TestHome {
  /** The temporary folder; every process a test starts names it in its command line. */
  readonly dir: string;
  /** `$EDGELLM_HOME`. */
  readonly home: string;
  /** A tiny GGUF model llama.cpp loads. */
  readonly model: string;
}

/**
 * Runs `fn` with a fresh temporary home and tiny model, then proves that no process naming
 * the folder is left and removes it.
 */
export async function withTestHome(fn: (t: TestHome) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgellm_supervisor_test_" });
  const home = `${dir}/home`;
  const model = `${dir}/tiny.gguf`;
  await Deno.mkdir(home);
  await writeTinyModel(model);
  try {
    await fn({ dir, home, model });
    await assertNoProcesses(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Config text: one model `tiny` at `model`, then `rest`. */
export function configText(model: string, rest: string): string {
  return `[models.tiny]\npath = "${model}"\n\n${rest}`;
}

/** Parses {@linkcode configText} without environment overrides. */
export function testConfig(model: string, rest: string): Config {
  return parseConfig(configText(model, rest), { env: {} });
}

/** Short intervals so that tests and their llama-servers stay quick on two cores. */
export const FAST_RUNTIME = `
threads = 1
ctx_size = 256
parallel = 1
health = { interval_ms = 200, timeout_ms = 500, failures_before_restart = 2, startup_timeout_s = 30 }
restart = { max_restarts = 3, window_s = 60, backoff_initial_ms = 50, backoff_max_ms = 200 }
`;

/**
 * Writes an executable shell script `<dir>/<name>/llama-server` (the file name an
 * `engine_path` must have) and returns its path. `$0`'s folder is at hand as `$HERE`.
 */
export async function fakeEngine(dir: string, name: string, body: string): Promise<string> {
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  const path = `${dir}/${name}/llama-server`;
  await Deno.writeTextFile(path, `#!/bin/sh\nHERE=${dir}/${name}\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

/** Supervisor options for tests: the checkout's bundle and `path` models. */
export function testOptions(
  home: string,
  extra: Partial<SupervisorOptions> = {},
): SupervisorOptions {
  return {
    home,
    execLine: (program) => bundledTool(program),
    resolveModel: (config, id) => config.models[id]!.path!,
    stopGraceMs: 3000,
    ...extra,
  };
}

/** Runs `fn` with a supervisor of `config`, then shuts it down. */
export async function withSupervisor(
  config: Config,
  options: SupervisorOptions,
  fn: (supervisor: Supervisor, events: EventRecorder) => Promise<void>,
): Promise<void> {
  const supervisor = await createSupervisor(config, options);
  const events = new EventRecorder(supervisor);
  try {
    await fn(supervisor, events);
  } finally {
    await supervisor.shutdown();
    events.close();
  }
}

interface Waiter {
  readonly predicate: (event: RuntimeEvent) => boolean;
  readonly resolve: (event: RuntimeEvent) => void;
}

/** Records a supervisor's events and lets a test wait for one, without polling. */
export class EventRecorder {
  /** Every event since construction, in order. */
  readonly events: RuntimeEvent[] = [];
  readonly #unsubscribe: () => void;
  #waiters = new Set<Waiter>();

  /** Subscribes to `supervisor`; events before this are not seen (read snapshots for those). */
  constructor(supervisor: Pick<Supervisor, "subscribe">) {
    this.#unsubscribe = supervisor.subscribe((event) => {
      this.events.push(event);
      for (const waiter of this.#waiters) {
        if (waiter.predicate(event)) {
          this.#waiters.delete(waiter);
          waiter.resolve(event);
        }
      }
    });
  }

  /** The states `runtime` went through, in order. */
  states(runtime: string): string[] {
    return this.events.filter((e) => e.runtime === runtime).map((e) => e.to);
  }

  /**
   * Resolves with the first event at index `from` or later (already recorded or still to
   * come) where `runtime` enters `state`.
   */
  next(
    runtime: string,
    state: RuntimeEvent["to"],
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<RuntimeEvent> {
    const from = options.from ?? 0;
    const predicate = (e: RuntimeEvent) => e.runtime === runtime && e.to === state;
    const seen = this.events.slice(from).find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const states = this.states(runtime).join(" → ");
        reject(new Error(`Timed out waiting for "${runtime}" to be ${state} (went: ${states})`));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (event) => {
          clearTimeout(timer);
          resolve(event);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /** Stops recording. */
  close(): void {
    this.#unsubscribe();
  }
}
