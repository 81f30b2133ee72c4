import { resolve } from "node:path";
import { Command, Option } from "commander";
import { printJson, withContext, writeStdout } from "../src/cli/mod.ts";
import { collect, formatBytes } from "./_util.ts";
import { exportBundle } from "./export_bundle.ts";
import { modelSpecs } from "./model_spec.ts";

/** `edgellm bundle export --out DIR|FILE.tar [--model ID]... [--json]`. */
export function bundleCommand(): Command {
  const bundle = new Command("bundle")
    .description("carry models to air-gapped devices (`bootstrap --from` takes them back)");
  bundle.addCommand(
    new Command("export")
      .description("write the configured models and a manifest with sha256 to a folder or tar")
      .requiredOption("--out <dir|file.tar>", "target folder, or a file name ending in .tar")
      .addOption(
        new Option("--model <id>", "only this configured model, repeatable")
          .argParser(collect).default([], "all"),
      )
      .option("--json", "print a JSON summary on stdout")
      .action(withContext<{ out: string; model: string[]; json?: boolean }>(
        async (options, context) => {
          const specs = modelSpecs(context.config, { ids: options.model });
          const summary = await exportBundle(specs, resolve(options.out), {
            home: context.home,
            logger: context.logger,
            signal: context.signal,
          });
          if (options.json) return await printJson(summary);
          await writeStdout(
            `${summary.out}: ${summary.models.length} model(s), ${summary.files} file(s), ` +
              `${formatBytes(summary.bytes)}\n`,
          );
        },
      )),
  );
  return bundle;
}
