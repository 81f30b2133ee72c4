import { probe } from "./_util.ts";
import { type Engine, execLine, type ExecLineOptions } from "./exec_line.ts";

/** The CPU backend library ggml chose for this machine. */
export interface CpuVariant {
  /** Variant name, e.g. `zen4`, `haswell`, `armv8.2_1`. */
  variant: string;
  /** Absolute path of the library ggml loaded, e.g. `…/lib/libggml-cpu-zen4.so`. */
  library: string;
}

/** Runs of a bundle's llama-server before concluding it logs no CPU backend. */
const BUNDLE_ATTEMPTS = 6;

/** Options for {@linkcode detectCpuVariant}. */
export interface DetectCpuVariantOptions extends ExecLineOptions {
  /** Cancels the run. */
  signal?: AbortSignal;
}

/**
 * Asks ggml which `libggml-cpu-*` variant it loads on this CPU: ggml scores every variant
 * beside the executable against the CPU's features and loads the best, and a verbose
 * `--list-devices` of `llama-server` logs "loaded CPU backend from <path>".
 *
 * @returns the variant, or `null` when the engine loads no separate CPU backend library (a
 * build with the CPU backend linked in) or does not log it.
 */
export async function detectCpuVariant(
  engine: Engine,
  options: DetectCpuVariantOptions = {},
): Promise<CpuVariant | null> {
  const line = execLine(engine, ["-v", "--list-devices"], options);
  // llama.cpp logs from a thread it does not wait for at exit, so under load a run can lose
  // the line (5 runs in 40 here). A bundle always ships its variants: ask it again.
  const attempts = "bundle" in engine ? BUNDLE_ATTEMPTS : 1;
  let library: string | undefined;
  for (let i = 0; i < attempts && library === undefined; i++) {
    const { text } = await probe(line, options.signal);
    library = /loaded CPU backend from (\S+)/.exec(text)?.[1];
  }
  if (library === undefined) return null;
  const variant = /libggml-cpu-(.+)\.so$/.exec(library)?.[1];
  return variant === undefined ? null : { variant, library };
}
