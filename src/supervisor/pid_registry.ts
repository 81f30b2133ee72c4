import { join } from "node:path";
import type { Logger } from "../log/mod.ts";
import { KILL_PATH } from "../permissions/mod.ts";

/** One live child of a supervisor, as written to `<dir>/<pid>.json`. */
export interface ChildRecord {
  readonly pid: number;
  /** Field 22 of `/proc/<pid>/stat` (clock ticks since boot): with the pid, unique per boot. */
  readonly start_time: string;
  /** `/proc/sys/kernel/random/boot_id`: a record from before a reboot names nobody. */
  readonly boot_id: string;
  /** The executable, compared with the process's `argv[0]`. */
  readonly command: string;
  /** The supervisor process that spawned it. */
  readonly owner_pid: number;
}

function readProc(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function bootId(): string {
  return readProc("/proc/sys/kernel/random/boot_id")?.trim() ?? "";
}

interface ProcStat {
  readonly state: string;
  readonly startTime: string;
}

function procStat(pid: number): ProcStat | undefined {
  const text = readProc(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19];
  return state === undefined || startTime === undefined ? undefined : { state, startTime };
}

/** The start time of a live process (field 22 of `/proc/<pid>/stat`), or `undefined`. */
export function processStartTime(pid: number): string | undefined {
  const stat = procStat(pid);
  return stat === undefined || stat.state === "Z" ? undefined : stat.startTime;
}

/** Whether the record still names the very process it was written for. */
function isSameProcess(record: ChildRecord, boot: string): boolean {
  if (record.boot_id !== boot || processStartTime(record.pid) !== record.start_time) return false;
  const argv0 = readProc(`/proc/${record.pid}/cmdline`)?.split("\0")[0];
  return argv0 === record.command;
}

/** Options for {@linkcode PidRegistry.stopLeftovers}. */
export interface StopLeftoversOptions {
  /** Time between SIGTERM and SIGKILL. @default {5000} */
  graceMs?: number;
  /** Receives what was found and done. */
  logger?: Logger;
  /** The `kill` executable (Deno.kill needs unrestricted `--allow-run`). @default {KILL_PATH} */
  killPath?: string;
}

/** What happened to one leftover of a previous instance. */
export interface Leftover {
  readonly pid: number;
  readonly command: string;
  /** "stopped" after SIGTERM, "killed" after SIGKILL, "alive" if it could not be stopped. */
  readonly outcome: "stopped" | "killed" | "alive";
}

const POLL_MS = 50;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitGone(record: ChildRecord, boot: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isSameProcess(record, boot)) {
    if (Date.now() >= deadline) return false;
    await delay(POLL_MS);
  }
  return true;
}

async function signal(killPath: string, pid: number, name: "TERM" | "KILL"): Promise<void> {
  const { success, stderr } = await new Deno.Command(killPath, {
    args: ["-s", name, String(pid)],
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    const reason = new TextDecoder().decode(stderr).trim();
    throw new Error(`Cannot send SIG${name} to pid ${pid}: ${reason || "kill failed"}`);
  }
}

/**
 * Pid files of the children a supervisor runs (`$EDGELLM_HOME/run/children/`), so that the
 * next start can find children of an instance that was killed with SIGKILL and stop them.
 * A pid file is trusted only while the boot, the process's start time and its `argv[0]`
 * all match: a pid reused by another process is never signalled.
 */
export class PidRegistry {
  /** The folder of pid files. */
  readonly dir: string;

  /** Creates the folder if needed. */
  constructor(dir: string) {
    this.dir = dir;
    Deno.mkdirSync(dir, { recursive: true });
  }

  /** Records a child that was just spawned; no-op when it is already gone. */
  add(pid: number, command: string): void {
    const startTime = processStartTime(pid);
    if (startTime === undefined) return;
    const record: ChildRecord = {
      pid,
      start_time: startTime,
      boot_id: bootId(),
      command,
      owner_pid: Deno.pid,
    };
    Deno.writeTextFileSync(join(this.dir, `${pid}.json`), JSON.stringify(record) + "\n");
  }

  /** Forgets a child that has exited. */
  remove(pid: number): void {
    try {
      Deno.removeSync(join(this.dir, `${pid}.json`));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /** The records on disk; unreadable files are skipped. */
  list(): ChildRecord[] {
    const records: ChildRecord[] = [];
    for (const entry of Deno.readDirSync(this.dir)) {
      if (!entry.isFile || !/^\d+\.json$/.test(entry.name)) continue;
      try {
        records.push(JSON.parse(Deno.readTextFileSync(join(this.dir, entry.name))));
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        Deno.removeSync(join(this.dir, entry.name));
      }
    }
    return records;
  }

  /**
   * Stops the children a previous instance left behind (SIGTERM, `graceMs`, SIGKILL) and
   * clears every pid file. Call it only while holding the supervisor lock, so the children of
   * a live instance are never touched.
   */
  async stopLeftovers(options: StopLeftoversOptions = {}): Promise<Leftover[]> {
    const { graceMs = 5000, logger, killPath = KILL_PATH } = options;
    const boot = bootId();
    const results = await Promise.all(
      this.list().map(async (record): Promise<Leftover[]> => {
        try {
          if (!isSameProcess(record, boot)) return [];
          logger?.warn("stopping a child left by a previous instance", {
            pid: record.pid,
            command: record.command,
          });
          const result = { pid: record.pid, command: record.command };
          try {
            await signal(killPath, record.pid, "TERM");
            if (await waitGone(record, boot, graceMs)) return [{ ...result, outcome: "stopped" }];
            await signal(killPath, record.pid, "KILL");
            if (await waitGone(record, boot, graceMs)) return [{ ...result, outcome: "killed" }];
          } catch (error) {
            logger?.error("cannot stop a leftover child", { pid: record.pid, error });
          }
          return [{ ...result, outcome: "alive" }];
        } finally {
          this.remove(record.pid);
        }
      }),
    );
    return results.flat();
  }
}
