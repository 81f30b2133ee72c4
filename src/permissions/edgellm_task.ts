/**
 * `deno task edgellm …`: runs `main.ts` from a checkout under exactly the permission flags a
 * compiled binary has (see `deno_flags.ts`), forwarding signals and the exit code.
 *
 * `EDGELLM_ALLOW_READ` and `EDGELLM_ALLOW_WRITE` (absolute paths separated by `:`) grant what
 * `compile.ts --allow-read`/`--allow-write` would bake into a binary; only this launcher reads
 * them.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { checkoutFlags } from "./checkout_flags.ts";

const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** The absolute paths in the variable `name`; exits 2 for a relative one, as `compile.ts` does. */
function envPaths(name: string): string[] {
  const paths = (Deno.env.get(name) ?? "").split(":").filter((path) => path !== "");
  for (const path of paths) {
    if (!path.startsWith("/")) {
      console.error(`Cannot use ${name} "${path}": it must be an absolute path`);
      Deno.exit(2);
    }
  }
  return paths;
}

async function main(): Promise<void> {
  const args = Deno.args;
  // Only the global options that change the permission scope; the CLI parses the rest.
  const { values } = parseArgs({
    args: [...args],
    options: { home: { type: "string" }, config: { type: "string" } },
    strict: false,
    allowPositionals: true,
  });
  const flags = await checkoutFlags({
    home: typeof values.home === "string" ? values.home : undefined,
    config: typeof values.config === "string" ? values.config : undefined,
    readPaths: envPaths("EDGELLM_ALLOW_READ"),
    writePaths: envPaths("EDGELLM_ALLOW_WRITE"),
  });
  const mainPath = new URL("../../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, mainPath, ...args],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  for (const signal of FORWARDED_SIGNALS) {
    Deno.addSignalListener(signal, () => child.kill(signal));
  }
  // A child killed by a signal reports 128 + its number, as a shell would.
  Deno.exit((await child.status).code);
}

if (import.meta.main) main();
