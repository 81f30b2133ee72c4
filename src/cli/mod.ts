/**
 * The command-line skeleton: global options, the per-command context, exit-code mapping and
 * output helpers. Each command lives with its concern and is listed in `main.ts`.
 *
 * @module
 */
export * from "./context.ts";
export * from "./output.ts";
export * from "./program.ts";
