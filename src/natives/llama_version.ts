import { probe } from "./_util.ts";
import { type Engine, execLine, type ExecLineOptions } from "./exec_line.ts";

/** What a llama.cpp executable's `--version` says about its build. */
export interface LlamaVersion {
  /** e.g. `0.7.0`; older builds print their build number here. */
  version: string;
  /** llama.cpp's build number (commit count), e.g. 11669, when printed. */
  build: number | null;
  /** Commit hash, or the packager's word (`Debian`). */
  commit: string;
}

/**
 * Parses the `version: …` line of `--version` output, in both the current form
 * (`version: 0.7.0 (build 11669, commit Debian)`) and the older one (`version: 4567 (abc1234)`).
 *
 * @throws {SyntaxError} when the text has no such line.
 */
export function parseLlamaVersion(text: string): LlamaVersion {
  const match = /^version: (\S+) \((?:build (\d+), commit )?([^)]*)\)/m.exec(text);
  if (match === null) {
    throw new SyntaxError(`Cannot parse llama.cpp version: no "version: …" line in "${text}"`);
  }
  const [, version, build, commit] = match as unknown as [
    string,
    string,
    string | undefined,
    string,
  ];
  const number = build ?? (/^\d+$/.test(version) ? version : undefined);
  return { version, build: number === undefined ? null : Number(number), commit };
}

/** Options for {@linkcode engineVersion}. */
export interface EngineVersionOptions extends ExecLineOptions {
  /** Cancels the run. */
  signal?: AbortSignal;
}

/**
 * Runs the engine with `--version` and parses what it prints; proves the engine starts.
 *
 * @throws {Error} when it exits non-zero; {SyntaxError} when it prints no version.
 */
export async function engineVersion(
  engine: Engine,
  options: EngineVersionOptions = {},
): Promise<LlamaVersion> {
  const line = execLine(engine, ["--version"], options);
  const { code, text } = await probe(line, options.signal);
  if (code !== 0) {
    throw new Error(
      `Cannot run "${[line.command, ...line.args].join(" ")}": exit code ${code}: ${text.trim()}`,
    );
  }
  return parseLlamaVersion(text);
}
