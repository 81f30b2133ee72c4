import {
  denoFlags,
  edgellmScope,
  type PermissionScope,
  type ScopeGrants,
} from "../permissions/mod.ts";
import type { Target } from "../natives/mod.ts";

/**
 * What a device's binary may do besides the defaults of `denoFlags`; fixed at build time.
 * The {@linkcode ScopeGrants} default to none, but `hubEndpoints` to
 * `["https://huggingface.co"]`.
 */
export interface CompileOptions extends ScopeGrants {
  /** Targets to build. @default {TARGETS} */
  targets: readonly Target[];
  /** The device's `$EDGELLM_HOME` (absolute). @default {"/var/lib/edgellm"} */
  home: string;
}

/**
 * Stands in for the bundle's loader in a dry run before `native/dist/<target>` is assembled
 * (its path depends on the manifest's hash).
 */
export const PENDING_LOADER = "<home>/natives/<bundle-hash>/<loader>";

/**
 * The device's permission scope: `edgellmScope` of `src/permissions/`, as for a checkout run.
 * `loader` is the bundle's loader where the compiled binary extracts it
 * (`bundleGrants(home, { target, embedded: true })` of `src/natives/`), never the checkout's
 * copy. The embedded bundle and code need no grant: a compiled binary may always read its own
 * files.
 */
export function compileScope(options: CompileOptions, loader: string): PermissionScope {
  return edgellmScope(options.home, { run: [loader], read: [] }, options);
}

/** The commands that build one target, run from the checkout. */
export interface TargetPlan {
  /** The target triple built, e.g. `aarch64-unknown-linux-gnu`. */
  target: Target;
  /** The bundle's loader on the device; `null` in a dry run before the bundle is assembled. */
  loader: string | null;
  /** Assembles (or verifies) `native/dist/<target>`; a no-op when it is up to date. */
  natives: string[];
  /** `deno compile …` */
  compile: string[];
  /** The executable written, relative to the checkout. */
  output: string;
}

/** Options for {@linkcode planTarget}. */
export interface PlanTargetOptions {
  /** The bundle's loader on the device, once the bundle is assembled. @default {PENDING_LOADER} */
  loader?: string | undefined;
  /** The `deno` executable. @default {Deno.execPath()} */
  deno?: string;
}

/**
 * The commands that build `target` with the scope of `options`.
 *
 * @example
 * ```ts
 * const target = "aarch64-unknown-linux-gnu";
 * const { run: [loader] } = await bundleGrants(options.home, { target, embedded: true });
 * const plan = planTarget(target, options, { loader });
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
  const loader = planOptions.loader ?? PENDING_LOADER.replace("<home>", options.home);
  const flags = denoFlags(compileScope(options, loader));
  return {
    target,
    loader: planOptions.loader ?? null,
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
