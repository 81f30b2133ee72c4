/** How a {@linkcode procpsKill} ended. */
export interface ProcpsKillResult {
  /** Whether `kill` delivered the signal. */
  readonly ok: boolean;
  /** What `kill` said when it did not, e.g. "No such process". */
  readonly reason: string;
}

const decoder = new TextDecoder();

/**
 * Signals a process, or with a negative `target` a whole process group, through procps
 * `kill`: `Deno.kill` needs an unrestricted `--allow-run`, while the product grants only
 * `killPath`.
 *
 * @throws {Deno.errors.NotFound} or a permission error when `killPath` cannot be run.
 */
export async function procpsKill(
  killPath: string,
  target: number,
  signal: Deno.Signal,
): Promise<ProcpsKillResult> {
  const { success, stderr } = await new Deno.Command(killPath, {
    args: ["-s", signal.replace(/^SIG/, ""), "--", String(target)],
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { ok: success, reason: decoder.decode(stderr).trim() };
}
