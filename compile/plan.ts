import { join } from "node:path";
import { denoFlags, type PermissionScope } from "../src/permissions/mod.ts";
import { bundleHash, parseManifest, type Target } from "../src/natives/mod.ts";

/** What a device's binary may do besides the defaults of `denoFlags`; fixed at build time. */
export interface CompileOptions {
  /** Targets to build. @default {TARGETS} */
  targets: readonly Target[];
  /** The device's `$EDGELLM_HOME` (absolute). @default {"/var/lib/edgellm"} */
  home: string;
  /** Hub endpoints whose hosts the binary may reach. @default {["https://huggingface.co"]} */
  hubEndpoints: readonly string[];
  /** `engine_path`s the device may run (absolute). @default {[]} */
  engines: readonly string[];
  /** `jobs.allow_commands` the device may run (absolute). @default {[]} */
  commands: readonly string[];
  /** Further files the binary may read, e.g. models given by `path =` (absolute). @default {[]} */
  readPaths: readonly string[];
  /** Further environment variables, e.g. a `token_env` other than the defaults. @default {[]} */
  envNames: readonly string[];
}

/** Names an assembled bundle as the compiled binary will extract it. */
export interface BundleRef {
  /** The folder name under `<home>/natives/`, as `extractBundle` names it. */
  hash: string;
  /** The dynamic loader inside the bundle: the one executable the binary spawns from it. */
  loader: string;
}

/** Stands in for the bundle in a dry run before `native/dist/<target>` is assembled. */
export const PENDING_BUNDLE: BundleRef = {
  hash: "<bundle-hash>",
  loader: "<loader>",
};

/**
 * Reads a bundle's name and loader from the text of its `manifest.json`.
 *
 * @throws {SyntaxError} when the manifest is not valid.
 */
export function bundleRef(manifestText: string): BundleRef {
  return { hash: bundleHash(manifestText), loader: parseManifest(manifestText).loader };
}

/**
 * The device's permission scope. `--allow-run` names the loader of the bundle as the binary
 * extracts it (`<home>/natives/<hash>/<loader>`), never the checkout's copy, and no config file
 * besides the default ones (`./edgellm.toml`, `/etc/edgellm/edgellm.toml`).
 */
export function compileScope(options: CompileOptions, bundle: BundleRef): PermissionScope {
  const loader = join(options.home, "natives", bundle.hash, bundle.loader);
  return {
    home: options.home,
    configFiles: [],
    readPaths: [...options.engines, ...options.readPaths],
    runPaths: [loader, ...options.engines, ...options.commands],
    hubEndpoints: options.hubEndpoints,
    envNames: options.envNames,
  };
}

/** The commands that build one target, run from the checkout. */
export interface TargetPlan {
  target: Target;
  /** The bundle embedded; `null` in a dry run before it is assembled. */
  bundle: BundleRef | null;
  /** Assembles (or verifies) `native/dist/<target>`; a no-op when it is up to date. */
  natives: string[];
  /** `deno compile …` */
  compile: string[];
  /** The executable written, relative to the checkout. */
  output: string;
}

/** Options for {@linkcode planTarget}. */
export interface PlanTargetOptions {
  /** The bundle of the target, once assembled. @default {PENDING_BUNDLE} */
  bundle?: BundleRef | undefined;
  /** The `deno` executable. @default {Deno.execPath()} */
  deno?: string;
}

/**
 * The commands that build `target` with the scope of `options`.
 *
 * @example
 * ```ts
 * const plan = planTarget("aarch64-unknown-linux-gnu", options, { bundle });
 * // plan.compile: deno compile --target aarch64-unknown-linux-gnu
 * //   --include native/dist/aarch64-unknown-linux-gnu
 * //   --output dist/edgellm-aarch64-unknown-linux-gnu <denoFlags(compileScope(…))> main.ts
 * ```
 */
export function planTarget(
  target: Target,
  options: CompileOptions,
  planOptions: PlanTargetOptions = {},
): TargetPlan {
  const deno = planOptions.deno ?? Deno.execPath();
  const output = `dist/edgellm-${target}`;
  const flags = denoFlags(compileScope(options, planOptions.bundle ?? PENDING_BUNDLE));
  return {
    target,
    bundle: planOptions.bundle ?? null,
    natives: [deno, "task", "natives", "--target", target],
    compile: [
      deno,
      "compile",
      "--target",
      target,
      "--include",
      `native/dist/${target}`,
      "--output",
      output,
      ...flags,
      "main.ts",
    ],
    output,
  };
}

/** Quotes an argument for a POSIX shell where needed, so printed commands can be pasted. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
