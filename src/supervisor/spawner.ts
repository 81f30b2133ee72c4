import { procpsKill } from "./procps_kill.ts";
import type { Logger } from "../log/mod.ts";
import { KILL_PATH, SETPRIV_PATH } from "../permissions/deno_flags.ts";
import type { SpawnerMessage, SpawnerRequest } from "./_spawn_protocol.ts";
import type { PidRegistry } from "./pid_registry.ts";

/** How a child ended: `code` is `null` when a signal killed it. */
export interface ExitStatus {
  /** Exit code, or `null` when a signal killed it. */
  readonly code: number | null;
  /** The signal that killed it, or `null` when it exited on its own. */
  readonly signal: Deno.Signal | null;
  /**
   * Set when the spawner's Worker failed while the child ran: edgellm lost the child's handle,
   * sent SIGKILL to its process group, and this says why (the exit itself was not seen).
   */
  readonly spawnerFailure?: string;
}

/** A running child, owned by the spawner's worker. */
export interface SpawnedChild {
  /** Its process id, which is also its process group and session id. */
  readonly pid: number;
  /** Whether it dies with edgellm (spawned through `setpriv --pdeathsig TERM`). */
  readonly pdeathsig: boolean;
  /** Settles once it has exited and its output has been delivered; never rejects. */
  readonly status: Promise<ExitStatus>;
  /**
   * Sends a signal to its whole process group (it leads its own session), so grandchildren
   * (a wrapper script's engine, a job's background commands) get it too; ignored once it has
   * exited.
   */
  kill(signal: Deno.Signal): void;
}

/** What to spawn. The environment is exactly `env`: nothing is inherited. */
export interface SpawnRequest {
  /** Absolute path of the executable; it must be among the spawner's `run` paths. */
  readonly command: string;
  /** Arguments after `command`, passed as is (no shell). */
  readonly args: readonly string[];
  /** Working folder. @default {edgellm's own} */
  readonly cwd?: string | undefined;
  /** The child's whole environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Drop to this user and group (needs root). */
  readonly runAs?: { readonly uid: number; readonly gid: number } | undefined;
  /** "lines" splits output into lines; "text" passes decoded chunks. @default {"lines"} */
  readonly output?: "lines" | "text";
  /** Receives output in order, before `status` settles. */
  readonly onOutput?: (stream: "stdout" | "stderr", at: string, chunks: readonly string[]) => void;
}

/** Thrown when a spawn is refused (permission) or fails (missing file…). */
export class SpawnError extends Error {
  /** The executable that was asked for. */
  readonly command: string;
  /** The name of the underlying error, e.g. "NotCapable" or "NotFound". */
  readonly code: string;

  /** Constructs a new instance. */
  constructor(command: string, code: string, message: string) {
    super(`Cannot spawn "${command}": ${message}`);
    this.name = "SpawnError";
    this.command = command;
    this.code = code;
  }
}

/** Options for {@linkcode Spawner}. */
export interface SpawnerOptions {
  /** Absolute paths of exactly the executables that may be spawned. */
  run: readonly string[];
  /**
   * util-linux `setpriv`, through which children get PR_SET_PDEATHSIG; `null` to spawn
   * directly. @default {SETPRIV_PATH when this process may run it, else null}
   */
  setpriv?: string | null;
  /**
   * procps `kill`, which signals a child's process group (`Deno.kill(-pgid)` needs an
   * unrestricted `--allow-run`); `null` signals only the child itself.
   * @default {KILL_PATH when this process may run it, else null}
   */
  kill?: string | null;
  /** Pid files of live children, for the next start to find leftovers. */
  registry?: PidRegistry | undefined;
  /** Told what goes wrong outside a spawn: pid files, group signals, a failed Worker. */
  logger?: Logger | undefined;
  /** The Worker's module (tests inject faults through it). @default {SPAWNER_WORKER_URL} */
  workerUrl?: URL;
}

interface Pending {
  readonly request: SpawnRequest;
  resolveSpawn(child: Omit<SpawnedChild, "status">): void;
  rejectSpawn(error: Error): void;
  resolveExit(status: ExitStatus): void;
  pid?: number;
  /** Signals to the child's group, in the order they were asked for. */
  signals: Promise<void>;
}

/**
 * The spawner Worker's module. A compiled binary embeds it; run from a checkout, the process
 * needs read permission for exactly this file to start the Worker.
 */
export const SPAWNER_WORKER_URL: URL = new URL("./spawner_worker.ts", import.meta.url);

/** `command` if this process may run it, else `null`. */
function ifPermitted(command: string): string | null {
  const state = Deno.permissions.querySync({ name: "run", command }).state;
  return state === "granted" ? command : null;
}

/**
 * Spawns children from a Worker whose Deno permissions grant `run` for exactly `options.run`
 * (plus `setpriv`) and nothing else: the permission system, not only a check in this code,
 * decides what can be run. One spawner serves every child of one configuration; a reload
 * that changes the set of executables creates a new one and retires the old one when its
 * last child has exited ({@linkcode Spawner.closeWhenIdle}).
 *
 * Needs `--unstable-worker-options`.
 *
 * @throws {Deno.errors.NotCapable} from the constructor when this process itself may not run
 * one of `options.run`.
 */
export class Spawner {
  /** The executables this spawner may run. */
  readonly run: readonly string[];
  readonly #worker: Worker;
  readonly #setpriv: string | null;
  readonly #kill: string | null;
  readonly #registry: PidRegistry | undefined;
  readonly #logger: Logger | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closing = false;
  #closed = false;

  /** Starts the worker. */
  constructor(options: SpawnerOptions) {
    this.run = [...new Set(options.run)];
    this.#setpriv = options.setpriv === undefined ? ifPermitted(SETPRIV_PATH) : options.setpriv;
    this.#kill = options.kill === undefined ? ifPermitted(KILL_PATH) : options.kill;
    this.#registry = options.registry;
    this.#logger = options.logger;
    const run = this.#setpriv === null ? this.run : [...this.run, this.#setpriv];
    this.#worker = new Worker(options.workerUrl ?? SPAWNER_WORKER_URL, {
      type: "module",
      name: "edgellm-spawner",
      deno: {
        permissions: {
          run: run.length === 0 ? false : [...run],
          read: false,
          write: false,
          net: false,
          env: false,
          sys: false,
          ffi: false,
          import: false,
        },
      },
    });
    this.#worker.onmessage = (event: MessageEvent<SpawnerMessage>) => {
      // Nothing may escape: an exception here would end edgellm, children and all.
      try {
        this.#receive(event.data);
      } catch (error) {
        this.#logger?.error("cannot handle a message of the spawner worker", { error });
      }
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(`the spawner worker failed: ${event.message}`);
    };
  }

  /** Whether the Worker is gone (closed, or failed): every spawn is refused. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Children spawned and not yet exited (or being spawned). */
  get active(): number {
    return this.#pending.size;
  }

  /**
   * Spawns a child with stdin closed, stdout and stderr captured, in its own session.
   *
   * @throws {SpawnError} when Deno refuses it (`code` "NotCapable") or it cannot start.
   */
  spawn(request: SpawnRequest): Promise<SpawnedChild> {
    if (this.#closing) {
      return Promise.reject(new SpawnError(request.command, "Closed", "the spawner is closed"));
    }
    const id = this.#nextId++;
    return new Promise((resolveSpawn, rejectSpawn) => {
      let resolveExit!: (status: ExitStatus) => void;
      const exited = new Promise<ExitStatus>((resolve) => resolveExit = resolve);
      const pending: Pending = {
        request,
        rejectSpawn,
        resolveExit,
        resolveSpawn: (child) => resolveSpawn({ ...child, status: exited }),
        signals: Promise.resolve(),
      };
      this.#pending.set(id, pending);
      this.#send({
        type: "spawn",
        id,
        command: request.command,
        args: [...request.args],
        cwd: request.cwd,
        env: { ...request.env },
        uid: request.runAs?.uid,
        gid: request.runAs?.gid,
        output: request.output ?? "lines",
        setpriv: this.#setpriv,
      });
    });
  }

  #send(request: SpawnerRequest): void {
    this.#worker.postMessage(request);
  }

  #receive(message: SpawnerMessage): void {
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    switch (message.type) {
      case "spawned": {
        pending.pid = message.pid;
        const id = message.id;
        pending.resolveSpawn({
          pid: message.pid,
          pdeathsig: message.pdeathsig,
          kill: (signal) => this.#signal(id, signal),
        });
        this.#record(() => this.#registry?.add(message.pid, pending.request.command));
        break;
      }
      case "refused":
        this.#pending.delete(message.id);
        pending.rejectSpawn(new SpawnError(pending.request.command, message.name, message.message));
        this.#retireIfIdle();
        break;
      case "output":
        pending.request.onOutput?.(message.stream, message.at, message.chunks);
        break;
      case "exit":
        this.#pending.delete(message.id);
        if (pending.pid !== undefined) this.#record(() => this.#registry?.remove(pending.pid!));
        if (message.outputError !== undefined) {
          this.#logger?.warn("a child's output was cut short", {
            pid: pending.pid,
            command: pending.request.command,
            error: message.outputError,
          });
        }
        pending.resolveExit({
          code: message.signal === null ? message.code : null,
          signal: message.signal,
        });
        this.#retireIfIdle();
        break;
    }
  }

  /** A pid file that cannot be written (full disk) costs only the leftover scan after a crash. */
  #record(update: () => void): void {
    try {
      update();
    } catch (error) {
      this.#logger?.warn("cannot update a pid file of a child", { error });
    }
  }

  /** Signals the group of child `id` through `kill`, or the child alone without it. */
  #signal(id: number, signal: Deno.Signal): void {
    const pending = this.#pending.get(id);
    if (pending?.pid === undefined || this.#closed) return;
    const pid = pending.pid;
    pending.signals = pending.signals.then(async () => {
      // Still ours: its exit has not been reported, so neither its pid nor its group id can
      // have been reused (a group id stays taken while any member lives).
      if (!this.#pending.has(id) || this.#closed) return;
      if (this.#kill === null || !(await this.#killGroup(pid, signal))) {
        this.#send({ type: "kill", id, signal });
      }
    });
  }

  /** `kill -s SIG -- -pgid`; false when `kill` could not be run or found no such group. */
  async #killGroup(pgid: number, signal: Deno.Signal): Promise<boolean> {
    try {
      const { ok, reason } = await procpsKill(this.#kill!, -pgid, signal);
      if (!ok) this.#logger?.debug("cannot signal a process group", { pgid, signal, reason });
      return ok;
    } catch (error) {
      this.#logger?.warn("cannot run kill; signalling the child alone", { error });
      return false;
    }
  }

  /**
   * The Worker died: its children's handles are gone, so their exits can never be seen.
   * Each child's process group is killed (and its pid file dropped once that worked) before
   * its status settles, naming the failure: a runtime restarted now runs no duplicate.
   */
  async #fail(reason: string): Promise<void> {
    this.#logger?.error("the spawner worker failed; killing its children", { reason });
    const owned = [...this.#pending.values()];
    this.#pending.clear();
    this.close();
    await Promise.all(owned.map(async (pending) => {
      pending.rejectSpawn(new SpawnError(pending.request.command, "WorkerFailed", reason));
      if (pending.pid === undefined) return;
      const killed = this.#kill !== null && await this.#killGroup(pending.pid, "SIGKILL");
      if (killed) this.#record(() => this.#registry?.remove(pending.pid!));
      pending.resolveExit({
        code: null,
        signal: killed ? "SIGKILL" : null,
        spawnerFailure: killed
          ? `${reason}; its process group was killed`
          : `${reason}; it could not be killed (the next start stops it)`,
      });
    }));
  }

  #retireIfIdle(): void {
    if (this.#closing && this.#pending.size === 0) this.close();
  }

  /** Terminates the worker once no child is left; new spawns are refused from now on. */
  closeWhenIdle(): void {
    this.#closing = true;
    this.#retireIfIdle();
  }

  /**
   * Terminates the worker now. Children spawned through `setpriv` receive SIGTERM (their
   * parent thread ends); stop children first. Idempotent.
   */
  close(): void {
    this.#closing = true;
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.terminate();
    for (const pending of this.#pending.values()) {
      pending.rejectSpawn(new SpawnError(pending.request.command, "Closed", "the spawner closed"));
      pending.resolveExit({ code: null, signal: null });
    }
    this.#pending.clear();
  }
}
