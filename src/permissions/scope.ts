import { type Config, HubConfigSchema } from "../config/mod.ts";
import type { PermissionScope } from "./deno_flags.ts";

/**
 * What a build allows beyond the part of the scope every build has (home, transfer roots,
 * default config files, loopback): the options of `compile.ts`, or for a checkout run what its
 * configuration needs (see {@linkcode configGrants}). All paths absolute.
 */
export interface ScopeGrants {
  /** Hub endpoints whose hosts the program may reach. */
  hubEndpoints: readonly string[];
  /** `engine_path`s it may read and run. */
  engines: readonly string[];
  /** `jobs.allow_commands` it may run. */
  commands: readonly string[];
  /** Further files or folders it may read, e.g. models given by `path =`. */
  readPaths: readonly string[];
  /** Further folders it may write (and read). */
  writePaths: readonly string[];
  /** Further environment variables, e.g. a `token_env` other than the defaults. */
  envNames: readonly string[];
}

/**
 * The files of the program itself that need a grant. A compiled binary embeds its code and
 * bundle and only runs the loader it extracted to `<home>/natives/<hash>/`; a checkout reads
 * `native/dist/` and the spawner Worker's module from disk and runs the loader there.
 */
export interface ProgramFiles {
  /** Executables: the bundle's loader. */
  run: readonly string[];
  /** Files and folders to read. */
  read: readonly string[];
}

/**
 * The one scope of edgellm, for `compile.ts` and checkout runs alike: the program's files and
 * the build's grants on top of what {@linkcode denoFlags} gives every build. Nothing here
 * depends on a command line, so a checkout run can do exactly what a device's binary can.
 *
 * @example
 * ```ts
 * const scope = edgellmScope("/var/lib/edgellm", { run: [loader], read: [] }, {
 *   hubEndpoints: ["https://huggingface.co"],
 *   engines: [],
 *   commands: [],
 *   readPaths: [],
 *   writePaths: [],
 *   envNames: [],
 * });
 * ```
 */
export function edgellmScope(
  home: string,
  program: ProgramFiles,
  grants: ScopeGrants,
): PermissionScope {
  return {
    home,
    readPaths: [...program.read, ...grants.engines, ...grants.readPaths],
    writePaths: grants.writePaths,
    runPaths: [...program.run, ...grants.engines, ...grants.commands],
    hubEndpoints: grants.hubEndpoints,
    envNames: grants.envNames,
  };
}

/** The hub of the default configuration (and of `compile.ts` without `--hub-endpoint`). */
const DEFAULT_HUB_ENDPOINT = HubConfigSchema.parse({}).endpoint;

/**
 * The grants a configuration needs: what `compile.ts` must be told (`--allow-engine`,
 * `--allow-command`, `--allow-read` for models given by `path`, `--env`, `--hub-endpoint`) to
 * build a binary for it. `undefined` (no loadable configuration) gives the defaults, which are
 * the defaults of `compile.ts`.
 */
export function configGrants(config: Config | undefined): ScopeGrants {
  return {
    hubEndpoints: [config?.hub.endpoint ?? DEFAULT_HUB_ENDPOINT],
    engines: Object.values(config?.runtimes ?? {}).flatMap((r) => r.engine_path ?? []),
    commands: config?.jobs.allow_commands ?? [],
    readPaths: Object.values(config?.models ?? {}).flatMap((m) => m.path ?? []),
    writePaths: [],
    envNames: config ? [config.server.token_env, config.hub.token_env] : [],
  };
}
