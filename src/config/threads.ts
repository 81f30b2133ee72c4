import type { Logger } from "../log/mod.ts";

/** Options for {@linkcode resolveThreads}. */
export interface ResolveThreadsOptions {
  /** CPUs available. @default {navigator.hardwareConcurrency} */
  cpuCount?: number;
  /** Receives the clamping warning. */
  logger?: Logger;
  /** Names the setting in the warning, e.g. `runtimes.chat.threads`. */
  key?: string;
}

/**
 * Turns a `threads` setting into a count: "auto" is every CPU; an explicit number above the
 * CPU count is clamped to it (with a warning), since more threads than cores only slows
 * llama.cpp down.
 */
export function resolveThreads(
  threads: "auto" | number,
  options: ResolveThreadsOptions = {},
): number {
  const cpus = Math.max(1, options.cpuCount ?? navigator.hardwareConcurrency);
  if (threads === "auto") return cpus;
  if (threads > cpus) {
    options.logger?.warn(`${options.key ?? "threads"} = ${threads} exceeds the CPU count`, {
      threads,
      cpus,
      using: cpus,
    });
    return cpus;
  }
  return threads;
}
