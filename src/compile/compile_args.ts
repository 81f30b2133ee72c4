import { parseArgs } from "node:util";
import { HubConfigSchema, ServerConfigSchema, SYSTEM_HOME } from "../config/mod.ts";
import { UsageError } from "../errors.ts";
import { isTarget, type Target, TARGETS } from "../natives/mod.ts";
import { TRANSFER_ROOTS } from "../permissions/mod.ts";
import type { CompileOptions } from "./plan.ts";
import { errorMessage } from "../_util/error_message.ts";

/** The hub a binary may reach when no `--hub-endpoint` is given (the configuration's default). */
const DEFAULT_HUB_ENDPOINT = HubConfigSchema.parse({}).endpoint;

/** `deno task compile --help`. */
export const COMPILE_HELP = `Usage: deno task compile [options]

Builds dist/edgellm-<target> (one executable with the llama.cpp bundle inside) and
dist/SHA256SUMS. The binary's permissions are fixed now, so name what a device must allow:

  --target T          x86_64-unknown-linux-gnu or aarch64-unknown-linux-gnu (repeatable;
                      default: both)
  --home DIR          the device's EDGELLM_HOME (default ${SYSTEM_HOME}); it reads and
                      writes there and under ${TRANSFER_ROOTS.join(", ")}, so put
                      \`bootstrap --from\` folders and \`bundle export --out\` targets there
  --hub-endpoint URL  a hub it may download from (repeatable; default ${DEFAULT_HUB_ENDPOINT})
  --allow-engine P    an engine_path it may run (repeatable)
  --allow-command P   a jobs.allow_commands entry it may run (repeatable)
  --allow-read P      a further file or folder it may read, e.g. a model's path or a
                      --config file elsewhere (repeatable)
  --allow-write P     a further folder it may write and read, e.g. for bundle export --out
                      (repeatable)
  --env NAME          a further environment variable it may read, e.g. a token_env (repeatable)
  --dry-run           print the commands instead of running them (with --json: as JSON)

Environment: DENORT_BIN, a denort for the target, where Deno's site cannot be reached.`;

/** The parsed command line of `deno task compile`. */
export interface CompileArgs {
  /** What to build and what the binaries may do, defaults applied. */
  options: CompileOptions;
  /** `--dry-run`: print the commands instead of running them. */
  dryRun: boolean;
  /** `--json`: print the plan or result as JSON. */
  json: boolean;
  /** `--help`/`-h`: print the usage and build nothing. */
  help: boolean;
}

function absolutePaths(values: readonly string[], flag: string): string[] {
  for (const value of values) {
    if (!value.startsWith("/")) {
      throw new UsageError(
        `Cannot use ${flag} "${value}": it must be an absolute path, as the device checks it`,
      );
    }
  }
  return [...values];
}

/**
 * Parses the arguments of `deno task compile`.
 *
 * @throws {UsageError} for an unknown option or a bad value.
 */
export function parseCompileArgs(args: readonly string[]): CompileArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        target: { type: "string", multiple: true },
        home: { type: "string" },
        "hub-endpoint": { type: "string", multiple: true },
        "allow-engine": { type: "string", multiple: true },
        "allow-command": { type: "string", multiple: true },
        "allow-read": { type: "string", multiple: true },
        "allow-write": { type: "string", multiple: true },
        env: { type: "string", multiple: true },
        "dry-run": { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError(`Cannot parse the arguments: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const targets: Target[] = [];
  for (const target of values.target ?? TARGETS) {
    if (!isTarget(target)) {
      throw new UsageError(`Cannot compile for "${target}": use one of ${TARGETS.join(", ")}`);
    }
    if (!targets.includes(target)) targets.push(target);
  }
  const hubEndpoints = values["hub-endpoint"] ?? [DEFAULT_HUB_ENDPOINT];
  for (const endpoint of hubEndpoints) {
    // The same rule as `[hub] endpoint` in the configuration.
    if (!HubConfigSchema.shape.endpoint.safeParse(endpoint).success) {
      throw new UsageError(`Cannot use --hub-endpoint "${endpoint}": it must be an http(s) URL`);
    }
  }
  const envNames = values.env ?? [];
  for (const name of envNames) {
    // The same rule as `token_env` in the configuration.
    if (!ServerConfigSchema.shape.token_env.safeParse(name).success) {
      throw new UsageError(`Cannot use --env "${name}": it is not an environment variable name`);
    }
  }
  const [home = SYSTEM_HOME] = absolutePaths([values.home ?? SYSTEM_HOME], "--home");
  return {
    options: {
      targets,
      // `denoFlags` joins paths with commas: a trailing slash would only make them differ.
      home: home.length > 1 ? home.replace(/\/+$/, "") : home,
      hubEndpoints,
      engines: absolutePaths(values["allow-engine"] ?? [], "--allow-engine"),
      commands: absolutePaths(values["allow-command"] ?? [], "--allow-command"),
      readPaths: absolutePaths(values["allow-read"] ?? [], "--allow-read"),
      writePaths: absolutePaths(values["allow-write"] ?? [], "--allow-write"),
      envNames,
    },
    dryRun: values["dry-run"] ?? false,
    json: values.json ?? false,
    help: values.help ?? false,
  };
}
