import { loadConfig, resolveConfigPath, resolveHome } from "../config/mod.ts";
import { ConfigError } from "../config/mod.ts";
import { fileURLToPath } from "node:url";
import { bundleGrants } from "../natives/mod.ts";
import type { ArgumentPaths } from "./argument_paths.ts";
import { SPAWNER_WORKER_URL } from "../supervisor/spawner.ts";
import { denoFlags } from "./deno_flags.ts";
import { scopeForConfig } from "./scope.ts";

/** Options for {@linkcode checkoutFlags}. */
export interface CheckoutFlagsOptions {
  /** `--home` given on the command line, if any. */
  home?: string | undefined;
  /** `--config` given on the command line, if any. */
  config?: string | undefined;
  /** Paths outside the home named on the command line (see `argumentPaths`). */
  paths?: ArgumentPaths | undefined;
}

/**
 * The flags for running `main.ts` from a checkout with a given `--home`/`--config`: the same
 * scope a compiled binary gets, with the checkout's bundle in place of the embedded one.
 * A configuration that does not load yields the flags of the defaults, so the CLI itself
 * reports the problem.
 */
export async function checkoutFlags(options: CheckoutFlagsOptions = {}): Promise<string[]> {
  const home = resolveHome(options.home);
  const location = resolveConfigPath(options.config);
  let config;
  try {
    config = await loadConfig(location.path);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
  }
  const bundle = await bundleGrants(home, { embedded: false });
  const scope = scopeForConfig({
    home,
    configPath: location.path,
    config,
    bundleRunPaths: bundle.run,
    bundleReadPaths: bundle.read,
  });
  // A checkout loads the spawner Worker's module from disk; a compiled binary embeds it.
  const worker = fileURLToPath(SPAWNER_WORKER_URL);
  return denoFlags({
    ...scope,
    readPaths: [...(scope.readPaths ?? []), worker, ...(options.paths?.readPaths ?? [])],
    writePaths: options.paths?.writePaths ?? [],
  });
}
