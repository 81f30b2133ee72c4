/**
 * The llama.cpp bundles at run time: find the bundle of a target (in a checkout's
 * `native/dist/`, or embedded in a compiled binary and extracted once to
 * `<home>/natives/<hash>/`), verify every file against its manifest, and build the command
 * line that runs a bundled executable or a user's own build (`engine_path`).
 *
 * Also what `doctor` reports for the CPU's features: the `libggml-cpu-*` variant ggml loads on
 * this CPU (edgellm cannot read `/proc/cpuinfo`: Deno 2.9 refuses every read under `/proc`
 * without `--allow-all`).
 *
 * @example
 * ```ts
 * import { execLine, loadBundle } from "./mod.ts";
 *
 * const bundle = await loadBundle(home);
 * const { command, args } = execLine({ bundle, executable: "llama-server" }, ["--port", "0"]);
 * const child = new Deno.Command(command, { args, clearEnv: true }).spawn();
 * ```
 *
 * @module
 */
export * from "./bundle.ts";
export * from "./cpu_variant.ts";
export * from "./exec_line.ts";
export * from "./extract_bundle.ts";
export * from "./llama_version.ts";
export * from "./manifest.ts";
export * from "./sha256_file.ts";
export * from "./target.ts";
export * from "./verify_bundle.ts";
