import { errorMessage } from "../_util/error_message.ts";
import { basename } from "node:path";
import { type Config, ConfigError, type ConfigIssue, resolveThreads } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { BundleNotFoundError, type ExecLine, execLine } from "../natives/mod.ts";
import { childEnv } from "./child_env.ts";
import { llamaServerArgs } from "./engine_args.ts";
import { supervisorPaths } from "./supervisor_paths.ts";
import type { RuntimeSpec } from "./runtime.ts";

/** The bundle programs the supervisor runs. */
export type BundledProgram = "llama-server" | "llama-completion";

/** Exec line of a program of the verified bundle (the natives runtime); throws when there is none. */
export type ExecLineResolver = (program: BundledProgram) => ExecLine | Promise<ExecLine>;

/**
 * Local GGUF path of `config.models[id]` (its `path`, or the file in the store), e.g.
 * `(config, id) => resolveModelFile(id, config, home)`; throws when absent.
 */
export type ModelResolver = (config: Config, id: string) => string | Promise<string>;

/** The one engine a runtime may run; an `engine_path` must be a build of it. */
const ENGINE_NAME = "llama-server";

/** Options for {@linkcode prepareConfig}. */
export interface PrepareConfigOptions {
  /** Absolute `$EDGELLM_HOME`. */
  home: string;
  /** Exec lines of the bundle's programs; without llama-completion, inference jobs are off. */
  execLine: ExecLineResolver;
  /** Local GGUF path of each runtime's model; a throw is reported as a config issue. */
  resolveModel: ModelResolver;
  /** SIGTERM → SIGKILL grace of a stopping runtime. */
  stopGraceMs: number;
  /** Named in errors. @default {"configuration"} */
  source?: string;
  /** CPUs for `threads = "auto"`. @default {navigator.hardwareConcurrency} */
  cpuCount?: number;
  /** Told when inference jobs are off and why. @default {silent} */
  logger?: Logger | undefined;
}

/** A configuration turned into what the supervisor runs. */
export interface PreparedConfig {
  /** The configuration it was prepared from, unchanged. */
  readonly config: Config;
  /** What each runtime runs (exec line, arguments, env, restart policy), by runtime id. */
  readonly runtimes: ReadonlyMap<string, RuntimeSpec>;
  /** Exactly the executables the spawner may run. */
  readonly runPaths: readonly string[];
  /** The bundle's llama-completion for inference jobs; `undefined` without a bundle. */
  readonly completion: ExecLine | undefined;
}

function mayRun(command: string): boolean {
  return Deno.permissions.querySync({ name: "run", command }).state === "granted";
}

/**
 * Resolves and checks everything a configuration asks the supervisor to run: exec lines,
 * model files, threads, allow-listed arguments, and that every executable is one this
 * process may run. Nothing is started; a reload applies the result only if this succeeds.
 *
 * @throws {ConfigError} listing every problem found.
 */
export async function prepareConfig(
  config: Config,
  options: PrepareConfigOptions,
): Promise<PreparedConfig> {
  const issues: ConfigIssue[] = [];
  const runtimes = new Map<string, RuntimeSpec>();
  const runPaths = new Set<string>();
  const isRoot = Deno.uid() === 0;

  const checkRunAs = (key: string, runAs: { uid: number; gid: number } | undefined) => {
    if (runAs !== undefined && !isRoot) {
      issues.push({ key, message: "needs edgellm to run as root (it cannot switch users)" });
    }
  };

  let completion: ExecLine | undefined;
  try {
    const line = await options.execLine("llama-completion");
    if (mayRun(line.command)) completion = line;
    else {
      options.logger?.warn("inference jobs are off: this process may not run llama-completion", {
        command: line.command,
      });
    }
  } catch (error) {
    // Without a bundle (or one without llama-completion), runtimes with an engine_path still
    // run; inference jobs are refused. Anything else is a fault to report, not to hide.
    if (!(error instanceof BundleNotFoundError || error instanceof TypeError)) throw error;
    options.logger?.info("inference jobs are off: no llama-completion", { reason: error.message });
  }
  if (completion !== undefined) runPaths.add(completion.command);

  for (const [id, runtime] of Object.entries(config.runtimes)) {
    const key = `runtimes.${id}`;
    let exec: ExecLine | undefined;
    if (runtime.engine_path !== undefined) {
      if (basename(runtime.engine_path) !== ENGINE_NAME) {
        issues.push({
          key: `${key}.engine_path`,
          message: `"${runtime.engine_path}" is not a ${ENGINE_NAME} build: edgellm only runs ` +
            `the verified bundle's ${ENGINE_NAME} or a file named "${ENGINE_NAME}"`,
        });
      } else exec = execLine({ enginePath: runtime.engine_path });
    } else {
      try {
        exec = await options.execLine(ENGINE_NAME);
      } catch (error) {
        issues.push({ key: `${key}.engine`, message: errorMessage(error) });
      }
    }
    let modelPath: string | undefined;
    const model = config.models[runtime.model];
    if (model !== undefined) {
      try {
        modelPath = await options.resolveModel(config, runtime.model);
      } catch (error) {
        issues.push({
          key: `${key}.model`,
          message: `model "${runtime.model}" is not available: ${errorMessage(error)}`,
        });
      }
    }
    let args: string[] | undefined;
    try {
      args = llamaServerArgs({
        modelPath: modelPath ?? "",
        threads: resolveThreads(runtime.threads, {
          ...(options.cpuCount === undefined ? {} : { cpuCount: options.cpuCount }),
          ...(options.logger === undefined ? {} : { logger: options.logger }),
          key: `${key}.threads`,
        }),
        ctxSize: runtime.ctx_size,
        parallel: runtime.parallel,
        probeSlot: runtime.health.deep_interval_ms > 0,
        extra: runtime.args,
      });
    } catch (error) {
      issues.push({ key: `${key}.args`, message: errorMessage(error) });
    }
    checkRunAs(`${key}.run_as`, runtime.run_as);
    if (exec === undefined || modelPath === undefined || args === undefined) continue;
    runPaths.add(exec.command);
    const cwd = supervisorPaths(options.home).runtime(id);
    runtimes.set(id, {
      id,
      model: runtime.model,
      command: exec.command,
      args: [...exec.args, ...args],
      cwd,
      env: childEnv(cwd),
      runAs: runtime.run_as,
      autoStart: runtime.auto_start,
      restart: runtime.restart,
      health: runtime.health,
      stopGraceMs: options.stopGraceMs,
    });
  }

  for (const command of config.jobs.allow_commands) runPaths.add(command);
  checkRunAs("jobs.run_as", config.jobs.run_as);

  for (const command of runPaths) {
    if (!mayRun(command)) {
      issues.push({
        key: config.jobs.allow_commands.includes(command) ? "jobs.allow_commands" : "runtimes",
        message: `"${command}" is not among the executables this edgellm process may run ` +
          "(its permission flags are fixed at start): restart edgellm to pick it up",
      });
    }
  }

  if (issues.length > 0) throw new ConfigError(options.source ?? "configuration", issues);
  return { config, runtimes, runPaths: [...runPaths].sort(), completion };
}
