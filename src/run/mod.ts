/**
 * `edgellm run`: one-shot completions through the bundle's `llama-completion`, stopped at a
 * deadline (SIGTERM to the process group, a grace period, then SIGKILL).
 *
 * @module
 */
export * from "./completion.ts";
export * from "./run_command.ts";
export * from "./run_with_deadline.ts";
export * from "./run_completion.ts";
