import { ignoreNotFound } from "../_util/ignore_not_found.ts";
import { procpsKill } from "./procps_kill.ts";
import { join } from "node:path";
import { delay } from "../_util/delay.ts";
import type { Logger } from "../log/mod.ts";
import { KILL_PATH, PS_PATH } from "../permissions/deno_flags.ts";

/** One live child of a supervisor, as written to `<dir>/<pid>.json`. */
export interface ChildRecord {
  readonly pid: number;
  /** When it was spawned (ms since the epoch): with the pid, it names one process. */
  readonly spawned_at: number;
  /** The executable, compared with the process's `argv[0]` (or `argv[1]` for a script). */
  readonly command: string;
  /** The supervisor process that spawned it. */
  readonly owner_pid: number;
}

/**
 * How long after a process's start its spawn time may have been recorded (the Worker's
 * message waits for the main thread's event loop). A different process would have to reuse
 * the pid within this window and run the same executable to be taken for it.
 */
const RECORD_LAG_MS = 2000;

/** Options for {@linkcode PidRegistry}. */
export interface PidRegistryOptions {
  /** procps `ps`. @default {PS_PATH} */
  psPath?: string;
  /** procps `kill`. @default {KILL_PATH} */
  killPath?: string;
}

/** Options for {@linkcode PidRegistry.stopLeftovers}. */
export interface StopLeftoversOptions {
  /** Time between SIGTERM and SIGKILL. @default {5000} */
  graceMs?: number;
  /** Receives what was found and done. */
  logger?: Logger;
}

/** What happened to one leftover of a previous instance. */
export interface Leftover {
  readonly pid: number;
  readonly command: string;
  /** "stopped" after SIGTERM, "killed" after SIGKILL, "alive" if it could not be stopped. */
  readonly outcome: "stopped" | "killed" | "alive";
}

/** Between checks whether a signalled leftover is gone. */
const POLL_MS = 50;

const decoder = new TextDecoder();

/**
 * Pid files of the children a supervisor runs (`$EDGELLM_HOME/state/children/`), so that the
 * next start can find children of an instance that was killed with SIGKILL and stop them.
 * A pid file is trusted only while the process's start time and `argv[0]` match it: a pid
 * reused by another process is never signalled.
 *
 * Deno refuses reads under `/proc` without `--allow-all`, and `Deno.kill` needs unrestricted
 * `--allow-run`; so processes are inspected with procps `ps` and signalled with its `kill`.
 */
export class PidRegistry {
  /** The folder of pid files. */
  readonly dir: string;
  readonly #ps: string;
  readonly #kill: string;

  /** Creates the folder if needed. */
  constructor(dir: string, options: PidRegistryOptions = {}) {
    this.dir = dir;
    this.#ps = options.psPath ?? PS_PATH;
    this.#kill = options.killPath ?? KILL_PATH;
    Deno.mkdirSync(dir, { recursive: true });
  }

  /**
   * Records a child that was just spawned: written to a temporary file and renamed, so a
   * full disk never leaves a half-written record (`list` reads only `<pid>.json`).
   *
   * @throws {Error} when the record cannot be written (e.g. the disk is full).
   */
  add(pid: number, command: string): void {
    const record: ChildRecord = { pid, spawned_at: Date.now(), command, owner_pid: Deno.pid };
    const path = join(this.dir, `${pid}.json`);
    Deno.writeTextFileSync(`${path}.tmp`, JSON.stringify(record) + "\n");
    Deno.renameSync(`${path}.tmp`, path);
  }

  /** Forgets a child that has exited. */
  remove(pid: number): void {
    try {
      Deno.removeSync(join(this.dir, `${pid}.json`));
    } catch (error) {
      ignoreNotFound(error);
    }
  }

  /** The records on disk; unreadable ones are deleted. */
  list(): ChildRecord[] {
    const records: ChildRecord[] = [];
    for (const entry of Deno.readDirSync(this.dir)) {
      if (!entry.isFile || !/^\d+\.json$/.test(entry.name)) continue;
      const path = join(this.dir, entry.name);
      try {
        records.push(JSON.parse(Deno.readTextFileSync(path)));
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        Deno.removeSync(path);
      }
    }
    return records;
  }

  /** Whether the record still names a live process: same start time and `argv[0]`. */
  async isAlive(record: ChildRecord): Promise<boolean> {
    const before = Date.now();
    const { success, stdout } = await new Deno.Command(this.#ps, {
      args: ["-o", "etimes=,args=", "-p", String(record.pid)],
      clearEnv: true,
      env: { LC_ALL: "C" },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!success) return false; // no such process
    const match = /^\s*(\d+)\s+(\S+)(?:\s+(\S+))?/.exec(decoder.decode(stdout));
    if (match === null) return false;
    // `etimes` is whole seconds at some instant while ps ran: the start lies between these.
    const elapsedS = Number(match[1]);
    const earliest = before - (elapsedS + 1) * 1000;
    const latest = Date.now() - elapsedS * 1000;
    const sameStart = record.spawned_at >= earliest && record.spawned_at <= latest + RECORD_LAG_MS;
    // A script runs as "interpreter script …". A zombie shows "[name] <defunct>": no match.
    return sameStart && (match[2] === record.command || match[3] === record.command);
  }

  async #signal(pid: number, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const { ok, reason } = await procpsKill(this.#kill, pid, signal);
    if (!ok) throw new Error(`Cannot send ${signal} to pid ${pid}: ${reason || "kill failed"}`);
  }

  /**
   * Whether the process is gone within `ms`. Only a check that began after the deadline may
   * say "still there": on a busy machine one `ps` can outlast the whole grace, and a check
   * that began before the deadline may have looked before the process got to exit.
   */
  async #waitGone(record: ChildRecord, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      const checkedAt = Date.now();
      if (!(await this.isAlive(record))) return true;
      if (checkedAt >= deadline) return false;
      await delay(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
    }
  }

  async #stop(record: ChildRecord, graceMs: number, logger?: Logger): Promise<Leftover[]> {
    if (!(await this.isAlive(record))) return [];
    const { pid, command } = record;
    logger?.warn("stopping a child left by a previous instance", { pid, command });
    try {
      await this.#signal(pid, "SIGTERM");
      if (await this.#waitGone(record, graceMs)) return [{ pid, command, outcome: "stopped" }];
      await this.#signal(pid, "SIGKILL");
      if (await this.#waitGone(record, graceMs)) return [{ pid, command, outcome: "killed" }];
    } catch (error) {
      logger?.error("cannot stop a leftover child", { pid, command, error });
    }
    return [{ pid, command, outcome: "alive" }];
  }

  /**
   * Stops the children a previous instance left behind (SIGTERM, `graceMs`, SIGKILL) and
   * clears every pid file. Call it only while holding the supervisor lock, so the children of
   * a live instance are never touched.
   */
  async stopLeftovers(options: StopLeftoversOptions = {}): Promise<Leftover[]> {
    const { graceMs = 5000, logger } = options;
    const results = await Promise.all(
      this.list().map(async (record) => {
        try {
          return await this.#stop(record, graceMs, logger);
        } finally {
          this.remove(record.pid);
        }
      }),
    );
    return results.flat();
  }
}
