import { Command } from "commander";
import { type CommandContext, printJson, withContext, writeStdout } from "../cli/mod.ts";
import { CliError, ExitCode } from "../errors.ts";
import { type Check, doctor } from "./doctor.ts";

const LABELS = { ok: "ok", warn: "WARN", fail: "FAIL" } as const;

/** A compact table: status, check, detail, and the fix on the next line. */
function formatChecks(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((check) => check.name.length));
  return checks.map((check) => {
    const line = `${LABELS[check.status].padEnd(4)}  ${check.name.padEnd(width)}  ${check.detail}`;
    return check.fix === undefined ? line : `${line}\n${" ".repeat(width + 8)}fix: ${check.fix}`;
  }).join("\n") + "\n";
}

async function run(options: { json?: boolean }, context: CommandContext): Promise<void> {
  const checks = await doctor(context, { signal: context.signal });
  const failed = checks.filter((check) => check.status === "fail");
  if (options.json) await printJson({ ok: failed.length === 0, checks });
  else await writeStdout(formatChecks(checks));
  if (failed.length > 0) {
    throw new CliError(
      `doctor: ${failed.length} check(s) failed: ${failed.map((check) => check.name).join(", ")}`,
      ExitCode.Failed,
    );
  }
}

/**
 * `edgellm doctor [--json]`: checks the bundle, CPU, memory, disk, models, engine paths and
 * the server port; exits 1 when something is broken, with the fix beside it.
 */
export function doctorCommand(): Command {
  return new Command("doctor")
    .description(
      "check the llama.cpp bundle, CPU, memory, disk, models and port; exit 1 if something is broken",
    )
    .option("--json", "machine-readable output")
    .action(withContext(run));
}
