import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { printJson, withContext, writeStdout } from "../src/cli/mod.ts";
import { readEnv } from "../src/config/mod.ts";
import { collect, formatBytes } from "./_util.ts";
import { modelSpecs } from "./model_spec.ts";
import { type BootstrapOptions, planBootstrap, runBootstrap } from "./run_bootstrap.ts";

/** Options of `edgellm bootstrap`. */
export interface BootstrapCommandOptions {
  hfRepo?: string;
  revision?: string;
  include: string[];
  from?: string;
  offline?: boolean;
  clean?: boolean;
  dryRun?: boolean;
  wait?: number;
  json?: boolean;
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (value.trim() === "" || !Number.isFinite(seconds) || seconds < 0) {
    throw new InvalidArgumentError("must be a number of seconds (0 or more)");
  }
  return seconds;
}

/**
 * `edgellm bootstrap`: fetch the configured models (or `--hf-repo`) into the store, or import
 * them `--from` a bundle or Hugging Face cache. Safe to run from cron.
 */
export function bootstrapCommand(): Command {
  return new Command("bootstrap")
    .description(
      "fetch the configured models (or --hf-repo) into the store: resumable, verified, " +
        "safe to rerun from cron",
    )
    .option("--hf-repo <org/name>", "fetch this hub repo instead of the configured models")
    .option("--revision <rev>", "branch, tag or commit sha of --hf-repo (default: main)")
    .addOption(
      new Option("--include <glob>", "files of --hf-repo to fetch, repeatable")
        .argParser(collect).default([], "*.gguf"),
    )
    .option("--from <dir>", "import from a `bundle export` folder or a Hugging Face cache")
    .option("--offline", "never touch the network; fail only if something is missing")
    .option("--clean", "discard partial downloads and state first")
    .option("--dry-run", "print what would be fetched, change nothing")
    .option("--wait <seconds>", "wait this long for another running bootstrap", parseSeconds)
    .option("--json", "print a JSON summary on stdout")
    .action(withContext<BootstrapCommandOptions>(async (options, context) => {
      const { config, home, logger, signal } = context;
      const specs = modelSpecs(config, {
        hfRepo: options.hfRepo,
        revision: options.revision,
        include: options.include,
      });
      const tokenEnv = config.hub.token_env;
      const settings: BootstrapOptions = {
        home,
        hub: { endpoint: config.hub.endpoint, token: readEnv([tokenEnv])[tokenEnv], tokenEnv },
        offline: options.offline || config.hub.offline,
        from: options.from === undefined ? undefined : resolve(options.from),
        clean: options.clean,
        waitMs: (options.wait ?? 0) * 1000,
        logger,
        signal,
      };
      if (specs.length === 0) logger.warn("no models configured: nothing to do");
      if (options.dryRun) {
        const models = await planBootstrap(specs, settings);
        if (options.json) return await printJson({ models });
        const lines = models.flatMap((model) => [
          `${model.id}: ${model.repo ?? model.path}` +
          (model.commit ? `@${model.commit}` : "") +
          ` (${formatBytes(model.bytes_to_fetch)} to fetch)`,
          ...model.files.map((f) =>
            `  ${f.status.padEnd(8)} ${f.path} ${formatBytes(f.size)}` +
            (f.status === "partial" ? ` (have ${formatBytes(f.have)})` : "")
          ),
        ]);
        return await writeStdout(lines.map((line) => line + "\n").join(""));
      }
      const summary = await runBootstrap(specs, settings);
      if (options.json) return await printJson(summary);
      await writeStdout(
        summary.models.map((m) =>
          `${m.id}: ${m.repo ? `${m.repo}@${m.commit}` : m.path} ${m.files} file(s), ` +
          `${formatBytes(m.bytes_downloaded + m.bytes_imported)} fetched, ` +
          `${formatBytes(m.bytes_reused)} already present\n`
        ).join(""),
      );
    }));
}
