/**
 * Runs the real CLI (`main.ts`) as a subprocess under exactly the permission flags a compiled
 * binary gets, so a missing permission fails here rather than on a device.
 *
 * @module
 */
import { checkoutFlags } from "../../src/permissions/mod.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Options for {@linkcode runEdgellm} and {@linkcode spawnEdgellm}. */
export interface EdgellmOptions {
  /** `--home`; every test passes its own temp folder. */
  home: string;
  /**
   * `--config` file, if any. Put it where a device's binary could read it (in the home), as
   * for `--from` folders and `--out` targets: nothing on the command line widens the grants.
   */
  config?: string;
  /** Further readable paths, as `compile.ts --allow-read` bakes in. @default {[]} */
  allowRead?: string[];
  /** Further writable paths, as `compile.ts --allow-write` bakes in. @default {[]} */
  allowWrite?: string[];
  /** The child's whole environment (it does not inherit the test's). @default {{}} */
  env?: Record<string, string>;
  /** Working directory. @default {the home} */
  cwd?: string;
  /** Text for stdin. @default {none: stdin is closed} */
  stdin?: string;
}

/** The finished CLI run. */
export interface EdgellmResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function command(args: readonly string[], options: EdgellmOptions) {
  const globals = ["--home", options.home, ...(options.config ? ["--config", options.config] : [])];
  const flags = await checkoutFlags({
    home: options.home,
    config: options.config,
    readPaths: options.allowRead,
    writePaths: options.allowWrite,
  });
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, MAIN, ...globals, ...args],
    cwd: options.cwd ?? options.home,
    clearEnv: true,
    env: options.env ?? {},
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs `edgellm <args>` to completion and returns its exit code and output. */
export async function runEdgellm(
  args: readonly string[],
  options: EdgellmOptions,
): Promise<EdgellmResult> {
  const child = (await command(args, options)).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Starts `edgellm <args>` and returns the child; the caller must await its `status`. */
export async function spawnEdgellm(
  args: readonly string[],
  options: EdgellmOptions,
): Promise<Deno.ChildProcess> {
  return (await command(args, options)).spawn();
}
