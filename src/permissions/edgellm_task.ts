/**
 * `deno task edgellm …`: runs `main.ts` from a checkout under exactly the permission flags a
 * compiled binary has (see `deno_flags.ts`), forwarding signals and the exit code.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { argumentPaths } from "./argument_paths.ts";
import { checkoutFlags } from "./checkout_flags.ts";

const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

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
    paths: argumentPaths(args),
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
