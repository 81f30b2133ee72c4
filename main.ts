/**
 * The `edgellm` command line: bootstrap models, supervise llama.cpp, serve HTTP.
 *
 * @module
 */
import { bootstrapCommand, bundleCommand } from "./bootstrap/mod.ts";
import { runCli } from "./src/cli/mod.ts";
import { versionCommand } from "./src/cli/version_command.ts";

/** Every subcommand, in the order `--help` lists them. */
const COMMANDS = [bootstrapCommand(), bundleCommand(), versionCommand()];

/** Runs the CLI with the process arguments and exits with its code. */
async function main(): Promise<void> {
  Deno.exit(await runCli(COMMANDS, Deno.args));
}

if (import.meta.main) main();
