import { Command, InvalidArgumentError } from "commander";
import { constants } from "node:os";
import { type CommandContext, printJson, withContext, writeStdout } from "../cli/mod.ts";
import { resolveThreads } from "../config/mod.ts";
import { CliError, ExitCode } from "../errors.ts";
import { GgufError, readGgufHeader } from "../gguf/mod.ts";
import { ModelNotAvailableError, resolveModelArgument } from "../models/mod.ts";
import { BundleIntegrityError, BundleNotFoundError, execLine, loadBundle } from "../natives/mod.ts";
import type { OneShotResult } from "../supervisor/run_one_shot.ts";
import { Spawner, SpawnError } from "../supervisor/spawner.ts";
import { COMPLETION_ENV, completionArgs } from "./completion.ts";
import { type CompletionRun, runCompletion } from "./run_completion.ts";

/** `-n` when none is given: enough for a useful answer, bounded so a run always ends. */
const DEFAULT_TOKENS = 128;

/** The options of `edgellm run`. */
interface RunOptions {
  model: string;
  prompt: string;
  tokens: number;
  timeout?: number;
  json?: boolean;
  dryRun?: boolean;
}

function positiveInteger(name: string) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0) {
      throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
    }
    return number;
  };
}

function positiveSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidArgumentError(`must be a positive number of seconds, got "${value}"`);
  }
  return seconds;
}

/** Quotes an argument for a POSIX shell when it needs it, so `--dry-run` can be pasted. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The exit code a shell reports: 128 + the signal's number when a signal ended the process. */
function shellExitCode(result: OneShotResult): number | null {
  if (result.code !== null || result.signal === null) return result.code;
  const number = (constants.signals as Record<string, number | undefined>)[result.signal];
  return number === undefined ? null : 128 + number;
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join("\n");
}

/**
 * Refuses a missing or broken model file with a clear message before llama.cpp sees it. A
 * file outside the granted read paths (an ad hoc `--model` file) is left to llama.cpp, which
 * reads it with its own permissions and reports what is wrong.
 */
async function checkModelFile(path: string, signal: AbortSignal): Promise<void> {
  if ((await Deno.permissions.query({ name: "read", path })).state !== "granted") return;
  try {
    await readGgufHeader(path, { signal });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(
        `Cannot run model '${path}': the file does not exist; check --model or the model's path`,
        ExitCode.Failed,
        { cause: error },
      );
    }
    if (error instanceof GgufError) {
      throw new CliError(error.message, ExitCode.Failed, { cause: error });
    }
    throw error;
  }
}

async function run(options: RunOptions, context: CommandContext): Promise<void> {
  let model: string;
  try {
    model = resolveModelArgument(options.model, context.config, context.home);
  } catch (error) {
    if (error instanceof ModelNotAvailableError) {
      throw new CliError(error.message, ExitCode.Failed, { cause: error });
    }
    throw error;
  }
  await checkModelFile(model, context.signal);
  let bundle;
  try {
    bundle = await loadBundle(context.home, { signal: context.signal });
  } catch (error) {
    if (error instanceof BundleNotFoundError || error instanceof BundleIntegrityError) {
      throw new CliError(error.message, ExitCode.Failed, { cause: error });
    }
    throw error;
  }
  const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
  const args = completionArgs({
    model,
    prompt: options.prompt,
    tokens: options.tokens,
    threads: resolveThreads("auto"),
    seed,
  });
  const line = execLine({ bundle, executable: "llama-completion" }, args);
  if (options.dryRun) {
    const env = Object.entries(COMPLETION_ENV).map(([name, value]) => `${name}=${value}`);
    return await writeStdout(
      ["env", "-i", ...env, line.command, ...line.args].map(shellQuote).join(" ") + "\n",
    );
  }
  context.logger.debug("running llama-completion", { command: line.command, args: line.args });
  // The same sandbox as `serve`: a Worker that may run the bundle's loader and nothing else,
  // whose children die with edgellm (setpriv --pdeathsig).
  const spawner = new Spawner({ run: [line.command] });
  let run: CompletionRun;
  try {
    run = await runCompletion(spawner, { ...line, env: {} }, {
      ...(options.timeout === undefined ? {} : { timeoutMs: options.timeout * 1000 }),
      signal: context.signal,
    });
  } catch (error) {
    if (error instanceof SpawnError) {
      throw new CliError(error.message, ExitCode.Failed, { cause: error });
    }
    throw error;
  } finally {
    spawner.close();
  }
  const { result, completion, attempts } = run;
  if (result.code === 0 && completion.stats === null) {
    throw new CliError(
      `Cannot complete: llama-completion cut its output short ${attempts} times in a row ` +
        `(its logging thread was starved of CPU); retry when the machine is less busy`,
      ExitCode.TempFail,
    );
  }
  const timedOut = result.stoppedBy === "deadline";
  const exit = { code: shellExitCode(result), signal: result.signal, timed_out: timedOut };
  if (options.json) {
    await printJson({
      text: completion.text,
      ...(completion.stats ?? { tokens: null, timings: null }),
      seed,
      attempts,
      elapsed_ms: Math.round(result.elapsedMs),
      exit,
    });
  } else if (result.code === 0) {
    await writeStdout(completion.text + "\n");
  }
  if (timedOut) {
    throw new CliError(
      `Cannot complete: timed out after ${options.timeout} s (--timeout); llama-completion was ` +
        `stopped with ${result.stoppedWith}. Raise --timeout or lower -n`,
      ExitCode.Failed,
    );
  }
  if (result.stoppedBy === "abort") {
    // runCli turns an aborted context into "Interrupted." and exit code 130.
    throw new DOMException("Interrupted by a signal", "AbortError");
  }
  if (result.code !== 0) {
    throw new CliError(
      `Cannot complete: llama-completion exited with ${result.signal ?? `code ${result.code}`}:\n${
        lastLines(result.stderr, 5)
      }`,
      ExitCode.Failed,
    );
  }
}

/**
 * `edgellm run --model ID-or-FILE --prompt TEXT [-n TOKENS] [--timeout S] [--json] [--dry-run]`:
 * one completion through the bundle's `llama-completion`; stdout is the generated text alone.
 */
export function runCommand(): Command {
  return new Command("run")
    .description("generate one completion with the bundled llama-completion and print the text")
    .requiredOption("--model <id-or-file>", "a configured model id, or a .gguf file")
    .requiredOption("--prompt <text>", "the prompt")
    .option(
      "-n, --tokens <count>",
      "tokens to generate",
      positiveInteger("-n"),
      DEFAULT_TOKENS,
    )
    .option(
      "--timeout <seconds>",
      "stop llama.cpp after this long (SIGTERM, then SIGKILL) and exit 1",
      positiveSeconds,
    )
    .option("--json", "print the text, token counts, timings and exit status as JSON")
    .option("--dry-run", "print the exact command line instead of running it")
    .action(withContext(run));
}
