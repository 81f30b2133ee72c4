import { loadConfig, resolveConfigPath, resolveHome } from "../config/mod.ts";
import { ConfigError } from "../config/mod.ts";
import { fileURLToPath } from "node:url";
import { bundleGrants } from "../natives/mod.ts";
import { SPAWNER_WORKER_URL } from "../supervisor/spawner.ts";
import { denoFlags } from "./deno_flags.ts";
import { configGrants, edgellmScope, type ProgramFiles } from "./scope.ts";

/** Options for {@linkcode checkoutFlags}. */
export interface CheckoutFlagsOptions {
  /** `--home` given on the command line, if any. */
  home?: string | undefined;
  /**
   * `--config` given on the command line, if any: its settings decide the grants (as they
   * would decide the options of `compile.ts`); the file itself gets no grant.
   */
  config?: string | undefined;
  /** Further readable paths, as `compile.ts --allow-read` bakes in (absolute). @default {[]} */
  readPaths?: readonly string[] | undefined;
  /** Further writable paths, as `compile.ts --allow-write` bakes in (absolute). @default {[]} */
  writePaths?: readonly string[] | undefined;
}

/**
 * The files a checkout run reads from disk where a compiled binary embeds them: `native/dist/`
 * with the loader it runs, and the spawner Worker's module.
 */
export async function checkoutProgramFiles(home: string): Promise<ProgramFiles> {
  const bundle = await bundleGrants(home, { embedded: false });
  return { run: bundle.run, read: [...bundle.read, fileURLToPath(SPAWNER_WORKER_URL)] };
}

/**
 * The flags for running `main.ts` from a checkout with a given `--home`/`--config`: the scope
 * of a binary that `compile.ts` builds for that home and configuration, with the checkout's
 * program files in place of the embedded ones. Nothing depends on the command's other
 * arguments: a `--from`, `--out` or `--config` path outside the granted folders fails here
 * exactly as on a device. A configuration that does not load yields the flags of the
 * defaults, so the CLI itself reports the problem.
 */
export async function checkoutFlags(options: CheckoutFlagsOptions = {}): Promise<string[]> {
  const home = resolveHome(options.home);
  let config;
  try {
    config = await loadConfig(resolveConfigPath(options.config).path);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
  }
  const grants = configGrants(config);
  return denoFlags(edgellmScope(home, await checkoutProgramFiles(home), {
    ...grants,
    readPaths: [...grants.readPaths, ...(options.readPaths ?? [])],
    writePaths: [...grants.writePaths, ...(options.writePaths ?? [])],
  }));
}
