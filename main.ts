/**
 * The `edgellm` command line: bootstrap models, supervise llama.cpp, serve HTTP.
 *
 * @module
 */
import { bootstrapCommand, bundleCommand } from "./bootstrap/mod.ts";
import { runCli } from "./src/cli/mod.ts";
import { serveCommand } from "./src/cli/serve_command.ts";
import { versionCommand } from "./src/cli/version_command.ts";
import { nativesCommand } from "./src/natives/natives_command.ts";
import { runCommand } from "./src/run/run_command.ts";
import { doctorCommand } from "./src/doctor/doctor_command.ts";
import { serveHttp } from "./src/server/mod.ts";
import { statusCommand } from "./src/server/status_command.ts";

/** Every subcommand, in the order `--help` lists them. */
const COMMANDS = [
  bootstrapCommand(),
  bundleCommand(),
  serveCommand({ startHttp: serveHttp }),
  runCommand(),
  statusCommand(),
  doctorCommand(),
  nativesCommand(),
  versionCommand(),
];

/** Runs the CLI with the process arguments and exits with its code. */
async function main(): Promise<void> {
  Deno.exit(await runCli(COMMANDS, Deno.args));
}

if (import.meta.main) main();
