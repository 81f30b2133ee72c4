/**
 * `edgellm run`: one-shot completions through the bundle's `llama-completion`, spawned by the
 * supervisor's sandboxed spawner and stopped at a deadline (SIGTERM, a grace period, then
 * SIGKILL) by the same `runOneShot` as jobs.
 *
 * @module
 */
export * from "./completion.ts";
export * from "./run_command.ts";
export * from "./run_completion.ts";
