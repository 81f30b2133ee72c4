import { Command } from "commander";
import { VERSION } from "../version.ts";
import { printJson, writeStdout } from "./output.ts";
import { withContext } from "./program.ts";

/** `edgellm version [--json]`: edgellm, Deno and target versions. */
export function versionCommand(): Command {
  return new Command("version")
    .description("print the edgellm, Deno and target versions")
    .option("--json", "machine-readable output")
    .action(withContext<{ json?: boolean }>(async (options) => {
      const info = { edgellm: VERSION, deno: Deno.version.deno, target: Deno.build.target };
      if (options.json) return await printJson(info);
      await writeStdout(`edgellm ${info.edgellm}\ndeno ${info.deno}\ntarget ${info.target}\n`);
    }));
}
