/**
 * Configuration: locating the file and the home folder, parsing TOML, validating it with zod
 * (defaults applied, every problem reported with its key and line) and resolving settings
 * such as `threads = "auto"`.
 *
 * @module
 */
export * from "./config_error.ts";
export * from "./env.ts";
export * from "./load.ts";
export * from "./paths.ts";
export * from "./schema.ts";
export * from "./threads.ts";
