import { existsSync } from "../_util/exists.ts";
import { readEnv } from "./env.ts";
import { join } from "node:path";

/** Where a setting came from, for `doctor` and error messages. */
export type SettingSource = "flag" | "env" | "file" | "default";

/** A resolved configuration path (`undefined` = built-in defaults). */
export interface ConfigLocation {
  /** Absolute path of the file, or `undefined` for built-in defaults. */
  readonly path: string | undefined;
  /** How it was chosen. */
  readonly source: SettingSource;
}

/** Options for {@linkcode resolveConfigPath} and {@linkcode resolveHome}. */
export interface PathOptions {
  /** Environment. @default {readEnv()} */
  env?: Readonly<Record<string, string>>;
  /** Working directory for relative paths. @default {Deno.cwd()} */
  cwd?: string;
  /** Whether the process runs as root. @default {Deno.uid() === 0} */
  isRoot?: boolean;
}

/** The system-wide configuration file, the last file looked for. */
export const SYSTEM_CONFIG_PATH = "/etc/edgellm/edgellm.toml";
/** The home of a root process. */
export const SYSTEM_HOME = "/var/lib/edgellm";

function absolute(path: string, cwd: string): string {
  return path.startsWith("/") ? path : join(cwd, path);
}

/**
 * Picks the configuration file: `--config`, else `$EDGELLM_CONFIG`, else `./edgellm.toml`,
 * else `/etc/edgellm/edgellm.toml`, else built-in defaults. A file named by the flag or the
 * variable is used even if missing, so that the load reports it.
 */
export function resolveConfigPath(
  flag: string | undefined,
  options: PathOptions = {},
): ConfigLocation {
  const env = options.env ?? readEnv();
  const cwd = options.cwd ?? Deno.cwd();
  if (flag) return { path: absolute(flag, cwd), source: "flag" };
  const fromEnv = env["EDGELLM_CONFIG"];
  if (fromEnv) return { path: absolute(fromEnv, cwd), source: "env" };
  const local = join(cwd, "edgellm.toml");
  if (existsSync(local, { isFile: true })) return { path: local, source: "file" };
  if (existsSync(SYSTEM_CONFIG_PATH, { isFile: true })) {
    return { path: SYSTEM_CONFIG_PATH, source: "file" };
  }
  return { path: undefined, source: "default" };
}

/**
 * Picks the home folder: `--home`, else `$EDGELLM_HOME`, else `/var/lib/edgellm` for root,
 * else `$XDG_DATA_HOME/edgellm`, else `~/.local/share/edgellm`. Always absolute.
 */
export function resolveHome(flag: string | undefined, options: PathOptions = {}): string {
  const env = options.env ?? readEnv();
  const cwd = options.cwd ?? Deno.cwd();
  if (flag) return absolute(flag, cwd);
  if (env["EDGELLM_HOME"]) return absolute(env["EDGELLM_HOME"], cwd);
  if (options.isRoot ?? Deno.uid() === 0) return SYSTEM_HOME;
  if (env["XDG_DATA_HOME"]) return join(absolute(env["XDG_DATA_HOME"], cwd), "edgellm");
  const userHome = env["HOME"];
  if (!userHome) {
    throw new TypeError("Cannot choose a home folder: HOME is not set; pass --home DIR");
  }
  return join(userHome, ".local", "share", "edgellm");
}
