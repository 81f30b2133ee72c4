import type { Command } from "commander";
import {
  type Config,
  type ConfigLocation,
  loadConfig,
  resolveConfigPath,
  resolveHome,
} from "../config/mod.ts";
import { UsageError } from "../errors.ts";
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from "../log/mod.ts";

/** The global options every command accepts. */
export interface GlobalOptions {
  /** `--config FILE` */
  config?: string;
  /** `--home DIR` */
  home?: string;
  /** `--log-format json|pretty` */
  logFormat?: string;
  /** `--log-level debug|info|warn|error` */
  logLevel?: string;
}

/** What a command's action works with: validated configuration, home, logger, cancellation. */
export interface CommandContext {
  /** The validated configuration (defaults and environment overrides applied). */
  readonly config: Config;
  /** Which file it came from. */
  readonly configLocation: ConfigLocation;
  /** Absolute path of `$EDGELLM_HOME`. */
  readonly home: string;
  /** The process logger (stderr). */
  readonly logger: Logger;
  /** Aborted on the first SIGINT or SIGTERM; long-running work stops when it fires. */
  readonly signal: AbortSignal;
}

/** The logger that `--log-format` and `--log-level` ask for. */
function createLoggerFromOptions(globals: GlobalOptions): Logger {
  const { logFormat, logLevel } = globals;
  if (logFormat !== undefined && logFormat !== "json" && logFormat !== "pretty") {
    throw new UsageError(`Cannot use --log-format "${logFormat}": use "json" or "pretty"`);
  }
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new UsageError(
      `Cannot use --log-level "${logLevel}": use one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  return createLogger({
    ...(logFormat === undefined ? {} : { format: logFormat }),
    ...(logLevel === undefined ? {} : { level: logLevel as LogLevel }),
  });
}

/**
 * Builds the context of a command from its global options: resolves the config file and the
 * home, validates the configuration and creates the logger.
 *
 * @throws {UsageError} for a bad global option.
 * @throws {import("../config/mod.ts").ConfigError} for a configuration that is not valid.
 */
export async function loadContext(command: Command, signal: AbortSignal): Promise<CommandContext> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const logger = createLoggerFromOptions(globals);
  const configLocation = resolveConfigPath(globals.config);
  const config = await loadConfig(configLocation.path);
  const home = resolveHome(globals.home);
  return { config, configLocation, home, logger, signal };
}
