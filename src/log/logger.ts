/** Severity levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** How log lines are written: one JSON object per line, or readable text. */
export type LogFormat = "json" | "pretty";

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** The one logger of the process. Every method is synchronous and never throws. */
export interface Logger {
  /** Logs at debug level. */
  debug(message: string, fields?: LogFields): void;
  /** Logs at info level. */
  info(message: string, fields?: LogFields): void;
  /** Logs at warn level. */
  warn(message: string, fields?: LogFields): void;
  /** Logs at error level. */
  error(message: string, fields?: LogFields): void;
  /** Returns a logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /**
   * How lines are written: readable text for people, or one JSON object per line.
   *
   * @default {"pretty" on a TTY, "json" otherwise}
   */
  format?: LogFormat;
  /** Lines below this level are dropped. @default {"info"} */
  level?: LogLevel;
  /** Where a finished line goes. @default {a synchronous write to stderr} */
  write?: (line: string) => void;
  /** The clock, for tests. @default {() => new Date()} */
  now?: () => Date;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The log levels, for validating `--log-level`. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (value instanceof Error) return JSON.stringify(value.message);
  return JSON.stringify(value) ?? String(value);
}

function toJsonable(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
  }
  return out;
}

/**
 * Creates the logger. Logs go to stderr so that stdout stays for a command's output.
 *
 * @example
 * ```ts
 * const log = createLogger({ format: "json", level: "debug" });
 * log.child({ runtime: "chat" }).info("ready", { port: 8081 });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? (Deno.stderr.isTerminal() ? "pretty" : "json");
  const minRank = LEVEL_RANK[options.level ?? "info"];
  const write = options.write ?? writeStderr;
  const now = options.now ?? (() => new Date());

  function emit(level: LogLevel, message: string, fields: LogFields): void {
    if (LEVEL_RANK[level] < minRank) return;
    const time = now();
    if (format === "json") {
      write(
        JSON.stringify({ time: time.toISOString(), level, msg: message, ...toJsonable(fields) }),
      );
      return;
    }
    const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${formatValue(v)}`).join("");
    const clock = time.toISOString().slice(11, 19);
    write(`${clock} ${level.toUpperCase().padEnd(5)} ${message}${extra}`);
  }

  function make(base: LogFields): Logger {
    return {
      debug: (message, fields = {}) => emit("debug", message, { ...base, ...fields }),
      info: (message, fields = {}) => emit("info", message, { ...base, ...fields }),
      warn: (message, fields = {}) => emit("warn", message, { ...base, ...fields }),
      error: (message, fields = {}) => emit("error", message, { ...base, ...fields }),
      child: (fields) => make({ ...base, ...fields }),
    };
  }
  return make({});
}
