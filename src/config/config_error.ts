import { CliError, ExitCode } from "../errors.ts";

/** One problem found in a configuration. */
export interface ConfigIssue {
  /** Dotted key, e.g. `runtimes.chat.threads`; empty for the whole file. */
  readonly key: string;
  /** What is wrong with it. */
  readonly message: string;
  /** 1-based line in the file, where known. */
  readonly line?: number;
}

/** A configuration that cannot be used; exits with code 2 and lists every issue. */
export class ConfigError extends CliError {
  /** Where the configuration came from (a path, or "built-in defaults"). */
  readonly source: string;
  /** Every problem found, in file order where lines are known. */
  readonly issues: readonly ConfigIssue[];

  /** Constructs a new instance. */
  constructor(source: string, issues: readonly ConfigIssue[], options: { cause?: unknown } = {}) {
    const lines = issues.map((issue) => {
      const where = issue.line === undefined ? "" : ` (line ${issue.line})`;
      return `  - ${issue.key ? `"${issue.key}"` : "file"}${where}: ${issue.message}`;
    });
    super(
      `Cannot use configuration '${source}': ${issues.length} problem(s)\n${lines.join("\n")}` +
        (issues.some((issue) => issue.key) ? "\nFix the keys named above and run again." : ""),
      ExitCode.Usage,
      options,
    );
    this.name = "ConfigError";
    this.source = source;
    this.issues = issues;
  }
}
