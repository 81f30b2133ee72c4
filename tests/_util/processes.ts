/**
 * Finds processes by their command line, for proving that a test left none behind. Tests
 * run with `-A`, so `/proc` is readable here (the product itself cannot read it).
 *
 * @module
 */
import { waitFor } from "./wait_for.ts";

/** A live process. */
export interface ProcessInfo {
  readonly pid: number;
  /** Its arguments joined with spaces. */
  readonly cmdline: string;
}

/**
 * Whether reading `/proc/<pid>/…` failed because the process exited meanwhile: ENOENT once it
 * is gone, ESRCH ("No such process (os error 3)", a plain `Error`) while it is exiting.
 */
function exitedMeanwhile(error: unknown): boolean {
  if (error instanceof Deno.errors.NotFound) return true;
  if (!(error instanceof Error)) return false;
  return (error as { code?: unknown }).code === "ESRCH" || error.message.includes("(os error 3)");
}

/** Every live (non-zombie) process whose command line contains `needle`, except this one. */
export function processesMatching(needle: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    if (pid === Deno.pid) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
      if (cmdline.includes(needle)) found.push({ pid, cmdline });
    } catch (error) {
      if (!exitedMeanwhile(error)) throw error;
    }
  }
  return found;
}

/**
 * Waits until no process's command line contains `needle` (children may take a moment to be
 * reaped after their parent exits), then fails naming any still there.
 */
export async function assertNoProcesses(needle: string, timeoutMs = 5000): Promise<void> {
  try {
    await waitFor(`no process matching "${needle}"`, () => processesMatching(needle).length === 0, {
      timeoutMs,
      intervalMs: 50,
    });
  } catch {
    // The deadline passed (had `processesMatching` failed instead, it throws again here).
    const left = processesMatching(needle).map((p) => `${p.pid}: ${p.cmdline}`).join("\n");
    throw new Error(`Processes left behind:\n${left}`);
  }
}
