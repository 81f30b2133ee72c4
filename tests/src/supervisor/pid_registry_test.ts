import assert from "node:assert/strict";
import { PidRegistry } from "../../../src/supervisor/pid_registry.ts";
import { assertNoProcesses, processesMatching } from "../../_util/processes.ts";
import { waitFor } from "../../_util/wait_for.ts";

const SLEEP = "/usr/bin/sleep";

/** A `sleep` duration no other process uses, to find it by its command line. */
function uniqueDuration(): string {
  return `300.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
}

/** A process the test owns, standing in for a child a killed supervisor left behind. */
function orphan(command: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(command, { args, stdin: "null", stdout: "null", stderr: "null" })
    .spawn();
}

/**
 * A `sleep` orphan, once it runs `sleep`: `spawn()` may return before the child has called
 * exec (measured: 177 times in 300), and until then `ps` shows another command line.
 * `record` gets its pid at once, as the supervisor records a child when it spawns: recorded
 * later, on a loaded machine, its start time might no longer match the record's.
 */
async function sleeper(
  marker: string,
  record: (pid: number) => void = () => {},
): Promise<Deno.ChildProcess> {
  const child = orphan(SLEEP, [marker]);
  record(child.pid);
  await waitFor("the sleep to run", () => processesMatching(marker).length === 1);
  return child;
}

/**
 * A script orphan that installs `trap` (for SIGTERM) and then loops; resolves once the trap is
 * installed (it says "ready"), so a SIGTERM can no longer end it by arriving first. `record`
 * gets its pid at once (see {@linkcode sleeper}).
 */
async function trapping(
  path: string,
  trap: string,
  record: (pid: number) => void,
): Promise<Deno.ChildProcess> {
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\ntrap '${trap}' TERM\necho ready\nwhile :; do /usr/bin/sleep 0.05; done\n`,
  );
  await Deno.chmod(path, 0o755);
  const child = new Deno.Command(path, { stdin: "null", stdout: "piped", stderr: "null" })
    .spawn();
  record(child.pid);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  while (!said.includes("ready\n")) {
    const next = await reader.read();
    if (next.done) throw new Error(`${path} ended before it was ready`);
    said += next.value;
  }
  await reader.cancel();
  return child;
}

async function withRegistry(fn: (registry: PidRegistry, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "pid_registry_test_" });
  try {
    await fn(new PidRegistry(`${dir}/children`), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("PidRegistry.stopLeftovers stops a recorded child and clears its pid file", async () => {
  await withRegistry(async (registry) => {
    const marker = uniqueDuration();
    const child = await sleeper(marker, (pid) => registry.add(pid, SLEEP));
    assert.equal(registry.list().length, 1);
    const leftovers = await registry.stopLeftovers({ graceMs: 2000 });
    assert.deepEqual(leftovers, [{ pid: child.pid, command: SLEEP, outcome: "stopped" }]);
    assert.equal((await child.status).signal, "SIGTERM");
    assert.deepEqual(registry.list(), []);
    await assertNoProcesses(marker);
  });
});

Deno.test("PidRegistry.stopLeftovers kills with SIGKILL a leftover that ignores SIGTERM", async () => {
  await withRegistry(async (registry, dir) => {
    const script = `${dir}/stubborn`;
    const child = await trapping(script, "", (pid) => registry.add(pid, script));
    const leftovers = await registry.stopLeftovers({ graceMs: 300 });
    assert.deepEqual(leftovers, [{ pid: child.pid, command: script, outcome: "killed" }]);
    assert.equal((await child.status).signal, "SIGKILL");
  });
});

Deno.test("PidRegistry.stopLeftovers reports stopped a leftover that exits within its grace while ps is slow", async () => {
  // Regression: the wait after SIGTERM gave up as soon as one check ended past the grace, even
  // a check that had looked before the process got to exit (a loaded machine makes one `ps`
  // outlast the grace); the leftover was then SIGKILLed and reported "killed". Made
  // deterministic by a `ps` that answers 400 ms late and a leftover that needs ~0.1 s to exit
  // after SIGTERM, within its grace of 300 ms.
  await withRegistry(async (registry, dir) => {
    const ps = `${dir}/slow-ps`;
    await Deno.writeTextFile(
      ps,
      '#!/bin/sh\n/usr/bin/ps "$@"\ns=$?\n/usr/bin/sleep 0.4\nexit $s\n',
    );
    await Deno.chmod(ps, 0o755);
    const slow = new PidRegistry(registry.dir, { psPath: ps });
    const script = `${dir}/slow-exit`;
    const child = await trapping(
      script,
      "/usr/bin/sleep 0.1; exit 0",
      (pid) => slow.add(pid, script),
    );
    const leftovers = await slow.stopLeftovers({ graceMs: 300 });
    assert.deepEqual(leftovers, [{ pid: child.pid, command: script, outcome: "stopped" }]);
    assert.deepEqual({ ...await child.status }, { success: true, code: 0, signal: null });
  });
});

Deno.test("PidRegistry never signals a process whose start time or command differ from the record", async () => {
  await withRegistry(async (registry) => {
    const marker = uniqueDuration();
    const child = await sleeper(marker);
    try {
      // The pid reused by another process: same pid, started at another time.
      registry.add(child.pid, SLEEP);
      const file = `${registry.dir}/${child.pid}.json`;
      const record = JSON.parse(Deno.readTextFileSync(file));
      Deno.writeTextFileSync(
        file,
        JSON.stringify({ ...record, spawned_at: record.spawned_at - 60_000 }),
      );
      assert.deepEqual(await registry.stopLeftovers({ graceMs: 100 }), []);
      // Same start time, another executable.
      registry.add(child.pid, "/usr/bin/other");
      assert.deepEqual(await registry.stopLeftovers({ graceMs: 100 }), []);
      assert.equal(processesMatching(marker).length, 1, "still running");
      assert.deepEqual(registry.list(), []);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  });
});

Deno.test("PidRegistry ignores records of processes that have exited", async () => {
  await withRegistry(async (registry) => {
    const child = orphan(SLEEP, ["0"]);
    await child.status;
    registry.add(child.pid, SLEEP);
    Deno.writeTextFileSync(`${registry.dir}/1.json`, "{ not json");
    assert.deepEqual(await registry.stopLeftovers(), []);
    assert.deepEqual(registry.list(), []);
  });
});
