/**
 * The parts of `compile.ts` (single-binary builds): the pure plan of commands, argument
 * parsing, the checks that `deno compile` can get Deno's runtime (denort) for a target, and
 * `dist/SHA256SUMS`.
 *
 * @module
 */
export * from "./checksums.ts";
export * from "./compile_args.ts";
export * from "./denort.ts";
export * from "./plan.ts";
