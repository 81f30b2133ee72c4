/**
 * Error types shared by every command, and the exit codes of the contract.
 *
 * @module
 */

/** Exit codes every command uses (see PRODUCT.md "Exit codes"). */
export const ExitCode = {
  /** Done, also "nothing to do". */
  Ok: 0,
  /** Failed; retrying will not help. */
  Failed: 1,
  /** Usage or configuration error. */
  Usage: 2,
  /** Temporary failure; retry later. */
  TempFail: 75,
  /** Interrupted by SIGINT/SIGTERM. */
  Interrupted: 130,
} as const;

/** One of the {@linkcode ExitCode} values. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/** Options for {@linkcode CliError}. */
export interface CliErrorOptions {
  /** The error that led to this one. */
  cause?: unknown;
}

/**
 * A condition the user can act on: the CLI prints its message (no stack) and exits with
 * {@linkcode CliError.exitCode}.
 */
export class CliError extends Error {
  /** The process exit code this error maps to. */
  readonly exitCode: ExitCode;

  /** Constructs a new instance. */
  constructor(message: string, exitCode: ExitCode, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** A usage mistake on the command line (exit code 2). */
export class UsageError extends CliError {
  /** Constructs a new instance. */
  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, ExitCode.Usage, options);
    this.name = "UsageError";
  }
}
