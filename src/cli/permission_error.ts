import { join, resolve } from "node:path";
import { resolveHome } from "../config/mod.ts";
import { CliError, ExitCode } from "../errors.ts";
import { dataRoots } from "../permissions/deno_flags.ts";

/** How Deno words a refused file access, in a checkout and in a compiled binary alike. */
const REFUSED_PATH = /^Requires (read|write) access to "(.+?)"/;

/**
 * Turns Deno's `NotCapable` for a file path (a `--from`, `--out`, `--config` or `--model`
 * outside what this edgellm may touch) into a {@linkcode CliError} (exit 2) that names the
 * folders it may use, from the permission scope itself, and how to get the file there.
 * Anything else gives `undefined`.
 *
 * @param error What a command threw.
 * @param homeFlag `--home`, if given; the home is resolved as the command resolves it.
 */
export function pathPermissionError(
  error: unknown,
  homeFlag: string | undefined,
): CliError | undefined {
  if (!(error instanceof Deno.errors.NotCapable)) return undefined;
  const match = REFUSED_PATH.exec(error.message);
  if (!match) return undefined;
  const access = match[1] as "read" | "write";
  const path = resolve(match[2] as string);
  const home = resolveHome(homeFlag);
  // A binary built for another home cannot use this one: name only what is really granted.
  const roots = dataRoots(home).filter((root) =>
    Deno.permissions.querySync({ name: access, path: root }).state === "granted"
  );
  const example = roots.includes(home)
    ? ` (e.g. ${join(home, access === "read" ? "import" : "export")}/)`
    : "";
  const move = access === "read" ? "copy it under one of them" : "choose a path under one of them";
  return new CliError(
    `Cannot ${access} '${path}': this edgellm may only ${access} under ${roots.join(", ")} ` +
      `and the paths it was built to allow; ${move}${example} or rebuild with ` +
      `\`compile.ts --allow-${access} <dir>\``,
    ExitCode.Usage,
    { cause: error },
  );
}
