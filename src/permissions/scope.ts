import type { Config } from "../config/mod.ts";
import type { PermissionScope } from "./deno_flags.ts";

/** Options for {@linkcode scopeForConfig}. */
export interface ScopeForConfigOptions {
  /** Absolute `$EDGELLM_HOME`. */
  home: string;
  /** The configuration file in use, if any. */
  configPath?: string | undefined;
  /** The validated configuration; `undefined` when it could not be loaded (its error is then reported by the CLI). */
  config?: Config | undefined;
  /** Executables of the llama.cpp bundle (its loader). */
  bundleRunPaths: readonly string[];
  /** Folders of the bundle to read. @default {[]} */
  bundleReadPaths?: readonly string[];
}

/**
 * The scope a checkout run needs for a given configuration: its `engine_path`s,
 * `allow_commands`, hub endpoint and token variables on top of the bundle and the home.
 */
export function scopeForConfig(options: ScopeForConfigOptions): PermissionScope {
  const { config } = options;
  const engines = Object.values(config?.runtimes ?? {}).flatMap((r) => r.engine_path ?? []);
  const models = Object.values(config?.models ?? {}).flatMap((m) => m.path ?? []);
  return {
    home: options.home,
    configFiles: options.configPath ? [options.configPath] : [],
    readPaths: [...(options.bundleReadPaths ?? []), ...engines, ...models],
    runPaths: [...options.bundleRunPaths, ...engines, ...(config?.jobs.allow_commands ?? [])],
    hubEndpoints: [config?.hub.endpoint ?? "https://huggingface.co"],
    envNames: config ? [config.server.token_env, config.hub.token_env] : [],
  };
}
