/// <reference lib="deno.worker" />
/**
 * The only code in edgellm that calls `Deno.Command`. It runs in a Worker whose Deno
 * permissions allow `run` for exactly the executables of the current configuration and
 * nothing else (no read, write, net, env, sys or ffi), so a spawn of anything else fails with
 * Deno's `NotCapable` whatever the caller asked. See `design.md` ("Sandbox").
 *
 * @module
 */
import type { SpawnerMessage, SpawnerRequest } from "./_spawn_protocol.ts";

/** A line longer than this is passed on in pieces, so one endless line cannot grow memory. */
const MAX_LINE_CHARS = 64 * 1024;

/**
 * After a child exits, a grandchild that inherited its pipes could keep them open forever;
 * output still buffered arrives well within this, and then the pipes are abandoned.
 */
const PIPE_DRAIN_MS = 500;

const children = new Map<number, Deno.ChildProcess>();

/** Set after `setpriv` turned out to be missing, so later spawns go direct. */
let setprivMissing = false;

function post(message: SpawnerMessage): void {
  self.postMessage(message);
}

async function pump(
  id: number,
  name: "stdout" | "stderr",
  reader: ReadableStreamDefaultReader<Uint8Array>,
  mode: "lines" | "text",
): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  const send = (chunks: string[]) => {
    if (chunks.length > 0) {
      post({ type: "output", id, stream: name, at: new Date().toISOString(), chunks });
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      if (mode === "text") {
        send([text]);
        continue;
      }
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      if (rest.length > MAX_LINE_CHARS) {
        lines.push(rest);
        rest = "";
      }
      send(lines.map((line) => line.endsWith("\r") ? line.slice(0, -1) : line));
    }
  } catch (error) {
    // A cancelled read (see PIPE_DRAIN_MS) ends the stream; nothing else is expected here.
    if (!(error instanceof TypeError || error instanceof Deno.errors.Interrupted)) {
      // Let go of the pipe, so the child is not blocked writing to one nobody reads; whether
      // the cancel works too changes nothing (`spawn` reports this error with the exit).
      await reader.cancel().catch(() => {});
      throw error;
    }
  }
  const last = rest + decoder.decode();
  if (last !== "") send([last]);
}

/** Whether this worker's own permissions let it run `command`. */
function mayRun(command: string): boolean {
  return Deno.permissions.querySync({ name: "run", command }).state === "granted";
}

/** The executable actually run, and its arguments, after the optional `setpriv` wrapper. */
function commandLine(request: Extract<SpawnerRequest, { type: "spawn" }>) {
  // setpriv execs whatever follows "--", so it only ever wraps an executable this worker may
  // run itself; anything else is spawned directly and Deno refuses it with NotCapable.
  if (request.setpriv === null || setprivMissing || !mayRun(request.command)) {
    return { command: request.command, args: [...request.args], pdeathsig: false };
  }
  return {
    command: request.setpriv,
    args: ["--pdeathsig", "TERM", "--", request.command, ...request.args],
    pdeathsig: true,
  };
}

function start(request: Extract<SpawnerRequest, { type: "spawn" }>): Deno.ChildProcess {
  const line = commandLine(request);
  const options: Deno.CommandOptions = {
    args: line.args,
    ...(request.cwd === undefined ? {} : { cwd: request.cwd }),
    clearEnv: true,
    env: { ...request.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // Its own session: a terminal's Ctrl-C reaches edgellm only, which then stops children in
    // order instead of racing them.
    detached: true,
    ...(request.uid === undefined ? {} : { uid: request.uid }),
    ...(request.gid === undefined ? {} : { gid: request.gid }),
  };
  try {
    const child = new Deno.Command(line.command, options).spawn();
    post({ type: "spawned", id: request.id, pid: child.pid, pdeathsig: line.pdeathsig });
    return child;
  } catch (error) {
    if (line.pdeathsig && error instanceof Deno.errors.NotFound) {
      // No util-linux setpriv on this device: spawn directly; leftovers are then stopped by the
      // next start (PidRegistry) instead of dying with edgellm.
      setprivMissing = true;
      return start(request);
    }
    throw error;
  }
}

/**
 * Runs one child to its end. Whatever happens to its output, the exit is always posted: the
 * main thread must never take a living child for an exited one (or wait forever).
 */
async function spawn(request: Extract<SpawnerRequest, { type: "spawn" }>): Promise<void> {
  let child: Deno.ChildProcess;
  try {
    child = start(request);
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    post({ type: "refused", id: request.id, name, message });
    return;
  }
  children.set(request.id, child);
  const readers = [child.stdout.getReader(), child.stderr.getReader()] as const;
  const pumps = Promise.allSettled([
    pump(request.id, "stdout", readers[0], request.output),
    pump(request.id, "stderr", readers[1], request.output),
  ]);
  const status = await child.status;
  children.delete(request.id);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const drained = await Promise.race([
    pumps.then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), PIPE_DRAIN_MS)),
  ]);
  clearTimeout(timer);
  if (!drained) await Promise.allSettled(readers.map((reader) => reader.cancel()));
  const failed = (await pumps).find((result) => result.status === "rejected");
  post({
    type: "exit",
    id: request.id,
    code: status.code,
    signal: status.signal,
    ...(failed === undefined ? {} : { outputError: String(failed.reason) }),
  });
}

function kill(id: number, signal: Deno.Signal): void {
  try {
    children.get(id)?.kill(signal);
  } catch (error) {
    // The child exited between the lookup and the signal.
    if (!(error instanceof TypeError)) throw error;
  }
}

self.onmessage = (event: MessageEvent<SpawnerRequest>) => {
  const request = event.data;
  if (request.type === "spawn") spawn(request);
  else kill(request.id, request.signal);
};
