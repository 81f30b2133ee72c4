import { ignoreNotFound } from "../_util/ignore_not_found.ts";
import type { ExecLine } from "./exec_line.ts";

/** A llama.cpp probe (`--version`, `--list-devices`) that takes longer than this is hung. */
const PROBE_TIMEOUT_MS = 60_000;

/**
 * Runs a short-lived command with an empty environment (no `LD_*` can leak in) and returns its
 * exit code and its stdout and stderr joined.
 */
export async function probe(
  line: ExecLine,
  signal?: AbortSignal,
): Promise<{ code: number; text: string }> {
  const timeout = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  const output = await new Deno.Command(line.command, {
    args: line.args,
    clearEnv: true,
    stdin: "null",
    // AbortSignal.any is safe here: the child holds its signal until it exits (measured).
    signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    text: decoder.decode(output.stdout) + decoder.decode(output.stderr),
  };
}

/**
 * Renames the finished folder `temp` to `dir`, first moving an existing `dir` aside (a
 * directory cannot be renamed over a non-empty one) and then deleting it. Callers hold a
 * lock, so no other process renames `dir` meanwhile.
 */
export async function replaceDir(temp: string, dir: string): Promise<void> {
  const old = `${temp}.old`;
  try {
    await Deno.rename(dir, old);
  } catch (error) {
    ignoreNotFound(error);
  }
  await Deno.rename(temp, dir);
  await Deno.remove(old, { recursive: true }).catch(ignoreNotFound);
}
