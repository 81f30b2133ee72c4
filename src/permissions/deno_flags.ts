import { ENV_NAMES } from "../config/env.ts";
import { SYSTEM_CONFIG_PATH } from "../config/paths.ts";

/**
 * Everything the product may touch. `deno task edgellm`, the tests and `compile.ts` all turn a
 * scope into flags with {@linkcode denoFlags}, so a missing permission fails in a checkout the
 * same way it would on a device.
 */
export interface PermissionScope {
  /** `$EDGELLM_HOME` (absolute): read and write, like the {@linkcode TRANSFER_ROOTS}. */
  home: string;
  /** Further read-only paths, e.g. the checkout's llama.cpp bundle or a model's `path`. */
  readPaths?: readonly string[];
  /** Further writable (and readable) paths besides the {@linkcode dataRoots}. */
  writePaths?: readonly string[];
  /** Absolute executables that may be spawned: the bundle's loader, `engine_path`s, `allow_commands`. */
  runPaths: readonly string[];
  /** Hub endpoint URLs whose hosts (and their download CDNs) may be reached. */
  hubEndpoints: readonly string[];
  /** Extra environment variables, e.g. configured `token_env` names. */
  envNames?: readonly string[];
}

/**
 * Where the CLI looks for a configuration when none is named; relative paths resolve against
 * the working directory when the process starts.
 */
const DEFAULT_CONFIG_FILES = ["./edgellm.toml", SYSTEM_CONFIG_PATH];

/**
 * Where an operator mounts removable media or drops folders for an air-gapped transfer
 * (`bootstrap --from`, `bundle export --out`): read and write, in every build, so that a device
 * never needs a rebuild to import from a USB stick.
 */
export const TRANSFER_ROOTS = ["/media", "/mnt", "/run/media"] as const;

/**
 * The folders edgellm may read and write in every build: the home and the
 * {@linkcode TRANSFER_ROOTS}. The CLI names them when a path outside them is refused.
 */
export function dataRoots(home: string): string[] {
  return [home, ...TRANSFER_ROOTS];
}

/** Loopback names: the supervised llama-servers and a local endpoint. */
const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"];

/** Listening on all interfaces (allowed only with a token, enforced by `serve`). */
const WILDCARD_HOSTS = ["0.0.0.0", "[::]"];

/** The public hub redirects file downloads to these CDN hosts. */
const HUGGING_FACE_CDN_HOSTS = [
  "cdn-lfs.hf.co",
  "cdn-lfs-us-1.hf.co",
  "cdn-lfs-eu-1.hf.co",
  "cdn-lfs.huggingface.co",
  "cdn-lfs-us-1.huggingface.co",
  "cas-bridge.xethub.hf.co",
];

/**
 * util-linux `setpriv` makes children die with edgellm (PR_SET_PDEATHSIG); it is spawned only
 * as `setpriv --pdeathsig TERM -- <granted executable>`.
 */
export const SETPRIV_PATH = "/usr/bin/setpriv";

/**
 * `ln`, for the bootstrapper's snapshot symlinks: Deno grants `Deno.symlink` only with
 * unscoped read and write (a link's target is resolved later), so under scoped grants the
 * link is made by `ln -s`. Both places, since run permissions match paths exactly.
 */
export const LN_PATHS = ["/usr/bin/ln", "/bin/ln"];

/**
 * procps `kill` and `ps`: `Deno.kill` needs unrestricted `--allow-run`, and Deno 2.9 refuses
 * every read under `/proc` (and `/sys`) without `--allow-all` ("Requires all access to
 * /proc/cpuinfo"), even with `--allow-read=/proc`; so no read grant covers `/proc`, and the
 * supervisor checks (`ps`) and signals (`kill`) the children a killed previous instance left
 * behind through these. CPU features come from the ggml variant the bundle loads (`doctor`).
 */
export const KILL_PATH = "/usr/bin/kill";
/** See {@linkcode KILL_PATH}. */
export const PS_PATH = "/usr/bin/ps";

/** System facts `doctor` and the supervisor ask for. */
const SYS_NAMES = [
  "cpus",
  "hostname",
  "loadavg",
  "osRelease",
  "systemMemoryInfo",
  "statfs",
  "uid",
  "gid",
];

/**
 * Unstable features the product needs: Worker permission narrowing for the spawner, and no
 * "legacy abort" (in 2.9 `request.signal` also fires after a finished response).
 */
export const UNSTABLE_FLAGS = ["--unstable-worker-options", "--unstable-no-legacy-abort"];

function hubHosts(endpoints: readonly string[]): string[] {
  const hosts: string[] = [];
  for (const endpoint of endpoints) {
    const url = new URL(endpoint);
    hosts.push(url.host);
    if (/(^|\.)(huggingface\.co|hf\.co)$/.test(url.hostname)) hosts.push(...HUGGING_FACE_CDN_HOSTS);
  }
  return hosts;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * Turns a scope into `deno run`/`deno compile` flags: permissions narrowed to the scope (never
 * `-A`) and the unstable features the product relies on.
 *
 * @example
 * ```ts
 * const flags = denoFlags({
 *   home: "/var/lib/edgellm",
 *   runPaths: ["/var/lib/edgellm/natives/ab12/lib/ld-linux-x86-64.so.2"],
 *   hubEndpoints: ["https://huggingface.co"],
 * });
 * ```
 */
export function denoFlags(scope: PermissionScope): string[] {
  const roots = dataRoots(scope.home);
  const write = unique([...roots, ...(scope.writePaths ?? [])]);
  const read = unique([...write, ...DEFAULT_CONFIG_FILES, ...(scope.readPaths ?? [])]);
  const run = unique([...scope.runPaths, SETPRIV_PATH, KILL_PATH, PS_PATH, ...LN_PATHS]);
  const net = unique([...LOOPBACK_HOSTS, ...WILDCARD_HOSTS, ...hubHosts(scope.hubEndpoints)]);
  const env = unique([...ENV_NAMES, ...(scope.envNames ?? [])]);
  return [
    `--allow-read=${read.join(",")}`,
    `--allow-write=${write.join(",")}`,
    `--allow-net=${net.join(",")}`,
    `--allow-run=${run.join(",")}`,
    `--allow-env=${env.join(",")}`,
    `--allow-sys=${SYS_NAMES.join(",")}`,
    "--no-prompt",
    ...UNSTABLE_FLAGS,
  ];
}
