import { Command, CommanderError } from "commander";
import { CliError, ExitCode } from "../errors.ts";
import { type CommandContext, type GlobalOptions, loadContext } from "./context.ts";
import { pathPermissionError } from "./permission_error.ts";

/** A command's work: gets the context, returns when done, throws a `CliError` to fail. */
export type CommandAction<O> = (options: O, context: CommandContext) => Promise<void>;

/** The abort controller of the current invocation, set by {@linkcode runCli}. */
let interruption = new AbortController();

/**
 * Wraps a command's work for commander's `.action()`: loads the context (config, home,
 * logger) and hands it over together with the command's own options.
 */
export function withContext<O>(
  action: CommandAction<O>,
): (options: O, command: Command) => Promise<void> {
  return async function runAction(options, command) {
    const context = await loadContext(command, interruption.signal);
    await action(options, context);
  };
}

/**
 * Commander decides on colours by reading `FORCE_COLOR`/`CLICOLOR_FORCE` from the environment,
 * which the product's `--allow-env` allow-list refuses; answer from the terminal instead.
 */
const OUTPUT_COLORS = {
  getOutHasColors: () => Deno.stdout.isTerminal() && Deno.env.get("NO_COLOR") === undefined,
  getErrHasColors: () => Deno.stderr.isTerminal() && Deno.env.get("NO_COLOR") === undefined,
};

function applyToAll(command: Command): void {
  command.exitOverride();
  command.configureOutput(OUTPUT_COLORS);
  command.showHelpAfterError("(add --help for usage)");
  for (const sub of command.commands) applyToAll(sub);
}

/** Builds the `edgellm` program with the global options and the given subcommands. */
export function createProgram(commands: readonly Command[]): Command {
  const program = new Command("edgellm")
    .description(
      "Bootstrap GGUF models, supervise llama.cpp and serve a local OpenAI-compatible endpoint",
    )
    .option(
      "--config <file>",
      "configuration file (else $EDGELLM_CONFIG, ./edgellm.toml, /etc/edgellm/edgellm.toml)",
    )
    .option(
      "--home <dir>",
      "state folder (else $EDGELLM_HOME, /var/lib/edgellm for root, ~/.local/share/edgellm)",
    )
    .option("--log-format <format>", "json or pretty (default: pretty on a TTY, json otherwise)")
    .option("--log-level <level>", "debug, info, warn or error", "info");
  for (const command of commands) program.addCommand(command);
  applyToAll(program);
  return program;
}

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Runs the CLI and returns the exit code. The first SIGINT/SIGTERM aborts the command's
 * `signal` (a command may then finish gracefully and exit 0); a second one exits 130 at once.
 * `CliError`s are printed without a stack, and so is a refused file access (exit 2, naming
 * the folders this edgellm may use); anything else propagates.
 */
export async function runCli(
  commands: readonly Command[],
  args: readonly string[],
): Promise<number> {
  interruption = new AbortController();
  const controller = interruption;
  const onSignal = () => {
    if (controller.signal.aborted) Deno.exit(ExitCode.Interrupted);
    controller.abort(new DOMException("Interrupted by a signal", "AbortError"));
  };
  for (const signal of SIGNALS) Deno.addSignalListener(signal, onSignal);
  const program = createProgram(commands);
  try {
    await program.parseAsync([...args], { from: "user" });
    return ExitCode.Ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    if (controller.signal.aborted) {
      console.error("Interrupted.");
      return ExitCode.Interrupted;
    }
    const cliError = error instanceof CliError
      ? error
      : pathPermissionError(error, program.opts<GlobalOptions>().home);
    if (cliError) {
      console.error(cliError.message);
      return cliError.exitCode;
    }
    throw error;
  } finally {
    for (const signal of SIGNALS) Deno.removeSignalListener(signal, onSignal);
  }
}
