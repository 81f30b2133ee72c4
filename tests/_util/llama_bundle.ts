/**
 * How tests run a tool of the x86_64 llama.cpp bundle: through the bundle's own dynamic
 * loader with `--library-path`, so it runs on any glibc Linux and needs no `LD_*` variable.
 *
 * Until the `native/dist` recipe lands, this falls back to the hand-assembled prototype
 * bundle in `/tmp/proto/b`.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const TARGET = "x86_64-unknown-linux-gnu";
const DIST = fileURLToPath(new URL(`../../native/dist/${TARGET}`, import.meta.url));
const PROTOTYPE = "/tmp/proto/b";

/** How to spawn one bundled tool. */
export interface BundledTool {
  /** The executable to spawn: the bundle's dynamic loader. */
  readonly command: string;
  /** The arguments that start the tool; append the tool's own after them. */
  readonly args: readonly string[];
  readonly loader: string;
  readonly libDir: string;
  readonly binDir: string;
}

/**
 * Returns how to run `name` (e.g. "llama-server") from the x86_64 bundle.
 *
 * @example
 * ```ts
 * const tool = bundledTool("llama-server");
 * const command = new Deno.Command(tool.command, { args: [...tool.args, "--version"] });
 * ```
 *
 * @throws {Error} when neither `native/dist/x86_64-unknown-linux-gnu` nor the prototype
 * bundle exists.
 */
export function bundledTool(name: string): BundledTool {
  const root = [DIST, PROTOTYPE].find((dir) => existsSync(`${dir}/bin`));
  if (root === undefined) {
    throw new Error(
      `Cannot find a llama.cpp bundle: neither '${DIST}' nor '${PROTOTYPE}' exists; ` +
        "build native/dist first",
    );
  }
  const loader = `${root}/lib/ld-linux-x86-64.so.2`;
  const libDir = `${root}/lib`;
  const binDir = `${root}/bin`;
  return {
    command: loader,
    args: ["--library-path", libDir, `${binDir}/${name}`],
    loader,
    libDir,
    binDir,
  };
}
