/** The sandboxed spawner: what Deno's permissions let its Worker run, and what a child gets. */
import assert from "node:assert/strict";
import { Spawner, SpawnError } from "../../../src/supervisor/spawner.ts";
import { childEnv } from "../../../src/supervisor/child_env.ts";
import { PidRegistry } from "../../../src/supervisor/pid_registry.ts";
import { assertNoProcesses, processesMatching } from "../../_util/processes.ts";
import { waitFor } from "../../_util/wait_for.ts";

const ENV = "/usr/bin/env";
const SLEEP = "/usr/bin/sleep";

async function withSpawner(
  run: string[],
  fn: (spawner: Spawner, dir: string) => Promise<void>,
  setpriv?: string | null,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spawner_test_" });
  const spawner = new Spawner({ run, ...(setpriv === undefined ? {} : { setpriv }) });
  try {
    await fn(spawner, dir);
  } finally {
    spawner.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Spawner refuses, with Deno's own NotCapable, an executable it was not granted", async () => {
  await withSpawner([ENV], async (spawner, dir) => {
    // No check in edgellm's code stands in the way here: the Worker simply lacks permission.
    await assert.rejects(
      spawner.spawn({ command: "/bin/sh", args: ["-c", "true"], cwd: dir, env: {} }),
      (error: unknown) => {
        assert.ok(error instanceof SpawnError);
        assert.equal(error.code, "NotCapable");
        assert.match(error.message, /Requires run access to "\/bin\/sh"/);
        return true;
      },
    );
    // Nor does it reach /bin/sh by a path that only resolves to a granted one.
    await assert.rejects(
      spawner.spawn({ command: "/bin/env", args: [], cwd: dir, env: {} }),
      (error: unknown) => error instanceof SpawnError && error.code === "NotCapable",
    );
  });
});

Deno.test("Spawner gives a child only the variables it is handed, never the parent's", async () => {
  Deno.env.set("HF_TOKEN", "hf_secret");
  try {
    await withSpawner([ENV], async (spawner, dir) => {
      const lines: string[] = [];
      const child = await spawner.spawn({
        command: ENV,
        args: [],
        cwd: dir,
        env: childEnv(dir),
        onOutput: (_stream, _at, chunk) => lines.push(...chunk),
      });
      assert.deepEqual(await child.status, { code: 0, signal: null });
      const names = lines.filter((l) => l !== "").map((l) => l.split("=")[0]).sort();
      assert.deepEqual(names, ["HOME", "LANG", "PATH"]);
      assert.ok(lines.includes(`HOME=${dir}`));
    });
  } finally {
    Deno.env.delete("HF_TOKEN");
  }
});

Deno.test("Spawner runs children with stdin closed, in their folder, with lines in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spawner_script_" });
  const script = `${dir}/script`;
  await Deno.writeTextFile(
    script,
    "#!/bin/sh\npwd\nread x || echo stdin-closed\necho to-stderr >&2\nprintf 'no newline'\nexit 3\n",
  );
  await Deno.chmod(script, 0o755);
  try {
    await withSpawner([script], async (spawner) => {
      const out: string[] = [];
      const err: string[] = [];
      const child = await spawner.spawn({
        command: script,
        args: [],
        cwd: dir,
        env: childEnv(dir),
        onOutput: (stream, _at, lines) => (stream === "stdout" ? out : err).push(...lines),
      });
      assert.equal(child.pdeathsig, true);
      assert.deepEqual(await child.status, { code: 3, signal: null });
      assert.deepEqual(out, [dir, "stdin-closed", "no newline"]);
      assert.deepEqual(err, ["to-stderr"]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Spawner delivers signals and reports how the child ended", async () => {
  await withSpawner([SLEEP], async (spawner, dir) => {
    const child = await spawner.spawn({ command: SLEEP, args: ["30"], cwd: dir, env: {} });
    child.kill("SIGTERM");
    assert.deepEqual(await child.status, { code: null, signal: "SIGTERM" });
    child.kill("SIGKILL"); // after the exit: ignored
  });
});

Deno.test("Spawner's children die with edgellm through setpriv, and spawn directly without it", async () => {
  // A sleep duration no other process uses, to find it by its command line.
  const marker = `300.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  // A parent process that spawns `sleep` through the spawner and is then SIGKILLed.
  const program = `
    import { Spawner } from ${
    JSON.stringify(new URL("../../../src/supervisor/spawner.ts", import.meta.url).href)
  };
    const spawner = new Spawner({ run: ["${SLEEP}"] });
    const child = await spawner.spawn({ command: "${SLEEP}", args: ["${marker}"], cwd: "/", env: {} });
    console.log(JSON.stringify({ pdeathsig: child.pdeathsig }));
    await new Promise(() => {});
  `;
  const parent = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-worker-options", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = parent.stdin.getWriter();
  await writer.write(new TextEncoder().encode(program));
  await writer.close();
  const reader = parent.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await reader.read();
  const { pdeathsig } = JSON.parse(value!);
  assert.equal(pdeathsig, true);
  assert.equal(processesMatching(marker).length, 1);
  parent.kill("SIGKILL");
  await parent.status;
  await reader.cancel();
  await assertNoProcesses(marker);

  await withSpawner([SLEEP], async (spawner, dir) => {
    const child = await spawner.spawn({ command: SLEEP, args: ["0"], cwd: dir, env: {} });
    assert.equal(child.pdeathsig, false);
    assert.deepEqual(await child.status, { code: 0, signal: null });
  }, null);
});

Deno.test("Spawner.closeWhenIdle retires the worker after its last child and refuses new spawns", async () => {
  await withSpawner([SLEEP], async (spawner, dir) => {
    const child = await spawner.spawn({ command: SLEEP, args: ["0.2"], cwd: dir, env: {} });
    spawner.closeWhenIdle();
    await assert.rejects(
      spawner.spawn({ command: SLEEP, args: ["0"], cwd: dir, env: {} }),
      /the spawner is closed/,
    );
    assert.deepEqual(await child.status, { code: 0, signal: null });
    assert.equal(spawner.active, 0);
  });
});

Deno.test("Spawner keeps spawning when a pid file cannot be written (review finding 1)", async () => {
  // Deterministic: the registry's folder is gone, so every write of a pid file fails, as on
  // a full disk. Before the fix the error escaped the Worker's onmessage and ended edgellm.
  const dir = await Deno.makeTempDir({ prefix: "spawner_registry_" });
  const registry = new PidRegistry(`${dir}/children`);
  await Deno.remove(`${dir}/children`);
  const spawner = new Spawner({ run: [SLEEP], registry });
  try {
    const child = await spawner.spawn({ command: SLEEP, args: ["0"], cwd: dir, env: {} });
    assert.deepEqual(await child.status, { code: 0, signal: null });
  } finally {
    spawner.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Spawner signals a child's whole process group, grandchildren included (review finding 2)", async () => {
  const marker = `300.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  await withSpawner(["/bin/sh"], async (spawner, dir) => {
    // The shell waits on a background sleep: signalling the shell's pid alone leaves it.
    // The marker is an argument, so only the sleep's command line reads "sleep <marker>".
    const child = await spawner.spawn({
      command: "/bin/sh",
      args: ["-c", `${SLEEP} "$1" & wait`, "sh", marker],
      cwd: dir,
      env: {},
      onOutput: () => {},
    });
    await waitFor("the grandchild", () => processesMatching(`${SLEEP} ${marker}`).length === 1);
    child.kill("SIGTERM");
    assert.deepEqual(await child.status, { code: null, signal: "SIGTERM" });
    await assertNoProcesses(`${SLEEP} ${marker}`);
  });
});

Deno.test("Spawner kills the children of a Worker that died and names the failure (review finding 5)", async () => {
  // Deterministic: the real worker module, wrapped to throw right after its first spawn.
  // Without setpriv, nothing but the Spawner itself can stop the orphaned child.
  const marker = `300.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  const spawner = new Spawner({
    run: [SLEEP],
    setpriv: null,
    workerUrl: new URL("../../testdata/failing_spawner_worker.ts", import.meta.url),
  });
  try {
    const child = await spawner.spawn({ command: SLEEP, args: [marker], cwd: "/", env: {} });
    const status = await child.status;
    assert.equal(status.code, null);
    assert.equal(status.signal, "SIGKILL");
    assert.match(
      status.spawnerFailure ?? "",
      /^the spawner worker failed: .*injected worker fault.*; its process group was killed$/,
    );
    // Reported only after the kill: the child is already gone (a zombie at most).
    assert.deepEqual(processesMatching(`${SLEEP} ${marker}`), []);
    assert.equal(spawner.closed, true);
  } finally {
    spawner.close();
  }
});
