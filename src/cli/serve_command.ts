import { errorMessage } from "../_util/error_message.ts";
import { Command, InvalidArgumentError } from "commander";
import { type Config, ConfigError, loadConfig } from "../config/mod.ts";
import { CliError, ExitCode } from "../errors.ts";
import type { Logger } from "../log/mod.ts";
import { resolveModelFile } from "../models/mod.ts";
import { type Bundle, BundleNotFoundError, execLine, loadBundle } from "../natives/mod.ts";
import {
  createSupervisor,
  type ExecLineResolver,
  type Supervisor,
  SupervisorLockedError,
} from "../supervisor/mod.ts";
import type { CommandContext } from "./context.ts";
import { withContext } from "./program.ts";

/** What the HTTP endpoint is started with. */
export interface StartHttpOptions {
  /** The validated configuration. */
  readonly config: Config;
  /** `--host`, else `[server] host`. */
  readonly host: string;
  /** `--port`, else `[server] port`. */
  readonly port: number;
  /** Aborted on SIGTERM/SIGINT: stop listening and end open streams. */
  readonly signal: AbortSignal;
  /** serve's logger, which the endpoint derives its own logger from. */
  readonly logger: Logger;
  /** `--insecure`: serve a non-loopback host without a token. */
  readonly insecure: boolean;
  /** `$EDGELLM_HOME` (where `/metrics` finds bootstrap's byte totals). */
  readonly home: string;
}

/**
 * Mounts the HTTP endpoint on a running supervisor. Resolves when the server has stopped
 * (after `signal` aborted); rejects if it cannot listen, which stops `serve`.
 */
export type StartHttp = (supervisor: Supervisor, options: StartHttpOptions) => Promise<void>;

/** Options for {@linkcode serveCommand}. */
export interface ServeCommandOptions {
  /** The HTTP endpoint; without it `serve` runs the supervisor alone. */
  startHttp?: StartHttp;
}

interface ServeFlags {
  host?: string;
  port?: number;
  insecure?: boolean;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a port (0-65535)`);
  }
  return port;
}

/** Loads and verifies the bundle once; without one, only `engine_path` runtimes can run. */
async function bundleResolver(context: CommandContext): Promise<ExecLineResolver> {
  let bundle: Bundle;
  try {
    bundle = await loadBundle(context.home, { signal: context.signal });
  } catch (error) {
    if (!(error instanceof BundleNotFoundError)) {
      throw new CliError(`Cannot serve: ${errorMessage(error)}`, ExitCode.Failed, {
        cause: error,
      });
    }
    return () => {
      throw error;
    };
  }
  return (executable) => execLine({ bundle, executable });
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/**
 * Rereads the configuration on SIGHUP; a bad one is logged and the running one stays.
 * Listening from the start: without a listener, SIGHUP would end the process.
 */
function reloadOnHangup(
  supervisor: () => Supervisor | undefined,
  context: CommandContext,
): () => void {
  const { logger } = context;
  const path = context.configLocation.path;
  const onHangup = async () => {
    const running = supervisor();
    if (running === undefined) {
      logger.warn("SIGHUP while starting: ignored; the configuration just read is in use");
      return;
    }
    logger.info("SIGHUP: reloading the configuration", { path: path ?? "built-in defaults" });
    try {
      const plan = await running.reload(await loadConfig(path));
      logger.info("configuration reloaded", { ...plan });
    } catch (error) {
      // Nothing may escape a signal handler: a failed reload must not end the process.
      const what = error instanceof ConfigError ? "configuration refused" : "reload failed";
      logger.error(`${what}; the running one stays`, { error });
    }
  };
  Deno.addSignalListener("SIGHUP", onHangup);
  return () => Deno.removeSignalListener("SIGHUP", onHangup);
}

async function serve(flags: ServeFlags, context: CommandContext, options: ServeCommandOptions) {
  const { config, home, logger, signal } = context;
  let supervisor: Supervisor | undefined;
  const stopReloading = reloadOnHangup(() => supervisor, context);
  const host = flags.host ?? config.server.host;
  const port = flags.port ?? config.server.port;
  try {
    try {
      supervisor = await createSupervisor(config, {
        home,
        execLine: await bundleResolver(context),
        resolveModel: (config, id) => resolveModelFile(id, config, home),
        logger: logger.child({ component: "supervisor" }),
        source: context.configLocation.path ?? "built-in defaults",
      });
    } catch (error) {
      if (!(error instanceof SupervisorLockedError)) throw error;
      throw new CliError(error.message, ExitCode.TempFail, { cause: error });
    }
    const insecure = flags.insecure ?? false;
    const http = options.startHttp?.(supervisor, {
      config,
      host,
      port,
      signal,
      logger,
      insecure,
      home,
    });
    logger.info("serving", { runtimes: supervisor.list().length, pid: Deno.pid });
    await Promise.race(http === undefined ? [waitForAbort(signal)] : [waitForAbort(signal), http]);
    logger.info("stopping: every child gets SIGTERM, then SIGKILL after its grace");
    await http;
  } finally {
    stopReloading();
    await supervisor?.shutdown();
  }
  logger.info("stopped");
}

/**
 * `edgellm serve [--host H] [--port P]`: starts the supervisor (and the HTTP endpoint, when
 * one is given); SIGTERM/SIGINT stop every child within its grace and exit 0; SIGHUP
 * rereads the configuration.
 */
export function serveCommand(options: ServeCommandOptions = {}): Command {
  return new Command("serve")
    .description(
      "supervise the configured llama.cpp runtimes and serve HTTP; SIGTERM/SIGINT stop " +
        "gracefully, SIGHUP reloads the configuration",
    )
    .option("--host <host>", "address to listen on (default: [server] host)")
    .option("--port <port>", "port to listen on (default: [server] port)", parsePort)
    .option(
      "--insecure",
      "serve a non-loopback host without a token (anyone who reaches it may use it)",
    )
    .action(withContext<ServeFlags>((flags, context) => serve(flags, context, options)));
}
