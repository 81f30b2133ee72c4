import assert from "node:assert/strict";
import { PidRegistry } from "../../../src/supervisor/pid_registry.ts";
import { assertNoProcesses, processesMatching } from "../../_util/processes.ts";

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
    const child = orphan(SLEEP, [marker]);
    registry.add(child.pid, SLEEP);
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
    await Deno.writeTextFile(script, "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.05; done\n");
    await Deno.chmod(script, 0o755);
    const child = orphan(script, []);
    registry.add(child.pid, script);
    const leftovers = await registry.stopLeftovers({ graceMs: 300 });
    assert.deepEqual(leftovers, [{ pid: child.pid, command: script, outcome: "killed" }]);
    assert.equal((await child.status).signal, "SIGKILL");
  });
});

Deno.test("PidRegistry never signals a process whose start time or command differ from the record", async () => {
  await withRegistry(async (registry) => {
    const marker = uniqueDuration();
    const child = orphan(SLEEP, [marker]);
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
