import { ignoreNotFound } from "../_util/ignore_not_found.ts";
import { statfs } from "node:fs/promises";
import { cpus } from "node:os";
import type { Config } from "../config/mod.ts";
import { GgufError, readGgufHeader } from "../gguf/mod.ts";
import { ModelNotAvailableError, resolveModelFile } from "../models/mod.ts";
import {
  type Bundle,
  BundleIntegrityError,
  BundleNotFoundError,
  type CpuVariant,
  detectCpuVariant,
  engineVersion,
  hostTarget,
  loadBundle,
  type Target,
} from "../natives/mod.ts";
import { errorMessage } from "../_util/error_message.ts";

/** How a check came out: `fail` makes `doctor` exit 1. */
export type CheckStatus = "ok" | "warn" | "fail";

/** One line of the doctor's report. */
export interface Check {
  /** What was checked, e.g. `bundle`, `model tiny`, `port`. */
  name: string;
  /** How it came out; one `fail` makes the report fail. */
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do, for a warning or a failure. */
  fix?: string;
}

/** Less free memory than this leaves no room for even a small model. */
const LOW_MEMORY_BYTES = 1 * 2 ** 30;
/** Less free disk in the home than this cannot take another model. */
const LOW_DISK_BYTES = 2 * 2 ** 30;
/** What {@linkcode doctor} examines. */
export interface DoctorInput {
  /** The loaded configuration: its models, runtimes and `[server]` are checked. */
  config: Config;
  /** Absolute `$EDGELLM_HOME`. */
  home: string;
}

/** Options for {@linkcode doctor}. */
export interface DoctorOptions {
  /** Which bundle. @default hostTarget() */
  target?: Target;
  /** Folder with one bundle per target (see `loadBundle`). @default DIST_DIR */
  distDir?: string;
  /** Whether the bundles are embedded in a compiled binary. @default Deno.build.standalone */
  embedded?: boolean;
  /** Cancels the checks. */
  signal?: AbortSignal;
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

async function checkBundle(home: string, options: DoctorOptions): Promise<[Check, Bundle | null]> {
  const target = options.target ?? hostTarget();
  const embedded = options.embedded ?? Deno.build.standalone;
  try {
    const bundle = await loadBundle(home, { ...options, target });
    const files = bundle.manifest.files.length;
    return [{
      name: "bundle",
      status: "ok",
      detail: `${target}: ${files} files verified in ${bundle.dir}`,
    }, bundle];
  } catch (error) {
    if (error instanceof BundleNotFoundError) {
      return [{
        name: "bundle",
        status: "fail",
        detail: error.message,
        fix: `build it with "deno task natives --target ${target}", or set engine_path`,
      }, null];
    }
    if (error instanceof BundleIntegrityError) {
      return [{
        name: "bundle",
        status: "fail",
        detail: error.message,
        fix: embedded
          ? `run "edgellm natives extract" to restore the bundle from this binary`
          : `rebuild it with "deno task natives --target ${target} --refresh"`,
      }, null];
    }
    throw error;
  }
}

async function checkEngine(
  bundle: Bundle,
  signal?: AbortSignal,
): Promise<[Check[], CpuVariant | null]> {
  const engine = { bundle, executable: "llama-server" };
  try {
    const version = await engineVersion(engine, signal ? { signal } : {});
    const variant = await detectCpuVariant(engine, signal ? { signal } : {});
    return [[
      {
        name: "llama.cpp",
        status: "ok",
        detail: `llama-server --version: ${version.version}` +
          (version.build === null ? "" : ` build ${version.build}`) + ` (${version.commit})`,
      },
      variant === null
        ? {
          name: "cpu backend",
          status: "warn",
          detail: "ggml did not report which libggml-cpu variant it loaded",
          fix: "run llama-server -v --list-devices from the bundle to see why",
        }
        : { name: "cpu backend", status: "ok", detail: `${variant.variant} (${variant.library})` },
    ], variant];
  } catch (error) {
    if (signal?.aborted) throw error;
    // Whatever stops the bundle from running (exec format, a missing library) is the finding.
    return [[{
      name: "llama.cpp",
      status: "fail",
      detail: errorMessage(error),
      fix: "check that the bundle matches this machine's architecture and glibc Linux",
    }], null];
  }
}

/**
 * Count and model from `node:os` `cpus()` (`--allow-sys=cpus`). The feature flags are not
 * readable: Deno 2.9 refuses every read under `/proc` without `--allow-all` ("Requires all
 * access to /proc/cpuinfo"), even with `--allow-read=/proc`, and no granted executable prints
 * them without loading a model. The variant ggml loads, the best this CPU runs, stands for them.
 */
function checkCpu(variant: CpuVariant | null): Check {
  const list = cpus();
  const count = list.length || navigator.hardwareConcurrency;
  const model = list[0]?.model.trim() || null;
  const features = variant === null
    ? "unknown without the bundle's CPU backend"
    : `those of ggml's "${variant.variant}" CPU backend`;
  return {
    name: "cpu",
    status: "ok",
    detail: `${count} CPUs${model === null ? "" : `, ${model}`}; features: ${features} ` +
      `(edgellm cannot read /proc/cpuinfo)`,
  };
}

function checkMemory(): Check {
  const memory = Deno.systemMemoryInfo();
  const detail = `${gib(memory.available)} available of ${gib(memory.total)}`;
  return memory.available < LOW_MEMORY_BYTES
    ? {
      name: "memory",
      status: "warn",
      detail,
      fix: "free memory or use a smaller (more quantized) model",
    }
    : { name: "memory", status: "ok", detail };
}

async function checkDisk(home: string): Promise<Check> {
  let stats;
  try {
    stats = await statfs(home);
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
    return {
      name: "disk",
      status: "warn",
      detail: `the home "${home}" does not exist yet`,
      fix: `create it, or let "edgellm bootstrap" create it`,
    };
  }
  const free = stats.bavail * stats.bsize;
  const detail = `${gib(free)} free in ${home}`;
  return free < LOW_DISK_BYTES
    ? { name: "disk", status: "warn", detail, fix: "free disk space before bootstrapping models" }
    : { name: "disk", status: "ok", detail };
}

async function checkModel(id: string, input: DoctorInput, signal?: AbortSignal): Promise<Check> {
  const name = `model ${id}`;
  let path;
  try {
    path = resolveModelFile(id, input.config, input.home);
  } catch (error) {
    if (!(error instanceof ModelNotAvailableError)) throw error;
    return { name, status: "fail", detail: error.message, fix: `run "edgellm bootstrap"` };
  }
  try {
    const header = await readGgufHeader(path, signal ? { signal } : {});
    return {
      name,
      status: "ok",
      detail: `${path}: ${header.architecture}` +
        (header.fileTypeName === undefined ? "" : ` ${header.fileTypeName}`) +
        `, ${(header.size / 2 ** 20).toFixed(1)} MiB`,
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return {
        name,
        status: "fail",
        detail: `${path} does not exist`,
        fix: input.config.models[id]?.path === undefined
          ? `run "edgellm bootstrap"`
          : `fix [models.${id}] path, or put the file there`,
      };
    }
    if (error instanceof GgufError) {
      return {
        name,
        status: "fail",
        detail: error.message,
        fix: input.config.models[id]?.path === undefined
          ? `run "edgellm bootstrap --clean" to fetch it again`
          : `replace "${path}" with a complete GGUF file`,
      };
    }
    throw error;
  }
}

async function checkEnginePath(runtime: string, path: string): Promise<Check> {
  const name = `engine_path ${runtime}`;
  try {
    const info = await Deno.stat(path);
    if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) {
      return { name, status: "ok", detail: `${path} is executable` };
    }
    return {
      name,
      status: "fail",
      detail: `${path} is not an executable file`,
      fix: `chmod +x "${path}", or fix [runtimes.${runtime}] engine_path`,
    };
  } catch (error) {
    ignoreNotFound(error);
    return {
      name,
      status: "fail",
      detail: `${path} does not exist`,
      fix: `install the engine there, or fix [runtimes.${runtime}] engine_path`,
    };
  }
}

function checkPort(config: Config): Check {
  const { host, port } = config.server;
  const address = `${host}:${port}`;
  try {
    Deno.listen({ hostname: host, port }).close();
    return { name: "port", status: "ok", detail: `${address} is free` };
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      return {
        name: "port",
        status: "fail",
        detail: `${address} is in use`,
        fix: "stop what listens there (another edgellm serve?), or change [server] port",
      };
    }
    if (error instanceof Deno.errors.AddrNotAvailable || error instanceof Deno.errors.NotCapable) {
      return {
        name: "port",
        status: "fail",
        detail: `cannot listen on ${address}: ${errorMessage(error)}`,
        fix: "set [server] host to an address of this machine",
      };
    }
    throw error;
  }
}

/**
 * Examines this machine for edgellm: the llama.cpp bundle (found, every file verified, and
 * actually run with `--version`), the CPU (count, model, and the ggml backend variant it
 * gets, which stands for its features), memory, free disk in the home, each configured model
 * (its GGUF header read), each `engine_path`, and whether the server port is free. It changes
 * nothing.
 *
 * @returns the checks in a fixed order; any `fail` means edgellm cannot work as configured.
 */
export async function doctor(input: DoctorInput, options: DoctorOptions = {}): Promise<Check[]> {
  const { signal } = options;
  const [bundleCheck, bundle] = await checkBundle(input.home, options);
  const checks = [bundleCheck];
  let variant: CpuVariant | null = null;
  if (bundle !== null) {
    const [engineChecks, loaded] = await checkEngine(bundle, signal);
    checks.push(...engineChecks);
    variant = loaded;
  }
  checks.push(checkCpu(variant), checkMemory(), await checkDisk(input.home));
  for (const id of Object.keys(input.config.models)) {
    checks.push(await checkModel(id, input, signal));
  }
  for (const [runtime, config] of Object.entries(input.config.runtimes)) {
    if (config.engine_path !== undefined) {
      checks.push(await checkEnginePath(runtime, config.engine_path));
    }
  }
  checks.push(checkPort(input.config));
  return checks;
}
