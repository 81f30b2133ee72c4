/** The one deadline/stop/drain path of `edgellm run` and jobs, against real processes. */
import assert from "node:assert/strict";
import { existsSync } from "../../../src/_util/exists.ts";
import { runOneShot, Spawner } from "../../../src/supervisor/mod.ts";

const SH = "/bin/sh";

async function withShell(fn: (spawner: Spawner) => Promise<void>): Promise<void> {
  const spawner = new Spawner({ run: [SH] });
  try {
    await fn(spawner);
  } finally {
    spawner.close();
  }
}

Deno.test("runOneShot returns the exit code and both outputs of a process that ends", async () => {
  await withShell(async (spawner) => {
    const result = await runOneShot(spawner, {
      command: SH,
      args: ["-c", "echo out; echo err >&2; exit 3"],
      env: {},
    }, { timeoutMs: 10_000 });
    assert.equal(result.code, 3);
    assert.equal(result.signal, null);
    assert.equal(result.stdout, "out\n");
    assert.equal(result.stderr, "err\n");
    assert.equal(result.stoppedBy, null);
    assert.equal(result.stoppedWith, null);
  });
});

Deno.test("runOneShot stops a process with SIGTERM when the deadline passes", async () => {
  await withShell(async (spawner) => {
    const result = await runOneShot(spawner, {
      command: SH,
      args: ["-c", "echo started; exec sleep 60"],
      env: {},
    }, { timeoutMs: 200 });
    assert.equal(result.stoppedBy, "deadline");
    assert.equal(result.signal, "SIGTERM");
    assert.equal(result.stoppedWith, "SIGTERM");
    assert.equal(result.stdout, "started\n");
    assert.equal(existsSync(`/proc/${result.pid}`), false);
  });
});

Deno.test("runOneShot kills a process that ignores SIGTERM after the grace", async () => {
  await withShell(async (spawner) => {
    const result = await runOneShot(spawner, {
      command: SH,
      args: ["-c", "trap '' TERM; while :; do :; done"],
      env: {},
    }, { timeoutMs: 100, graceMs: 200 });
    assert.equal(result.stoppedBy, "deadline");
    assert.equal(result.signal, "SIGKILL");
    assert.equal(result.stoppedWith, "SIGKILL");
    assert.equal(existsSync(`/proc/${result.pid}`), false);
  });
});

Deno.test("runOneShot stops the process when its signal aborts while the spawn is in flight", async () => {
  await withShell(async (spawner) => {
    const controller = new AbortController();
    const running = runOneShot(spawner, { command: SH, args: ["-c", "exec sleep 60"], env: {} }, {
      signal: controller.signal,
    });
    controller.abort();
    const result = await running;
    assert.equal(result.stoppedBy, "abort");
    assert.equal(result.signal, "SIGTERM");
    assert.equal(existsSync(`/proc/${result.pid}`), false);
  });
});

Deno.test("runOneShot keeps at most maxOutputBytes of a stream and says it cut the rest", async () => {
  await withShell(async (spawner) => {
    const result = await runOneShot(spawner, {
      command: SH,
      args: ["-c", "i=0; while [ $i -lt 1000 ]; do echo 0123456789; i=$((i+1)); done; echo e >&2"],
      env: {},
    }, { maxOutputBytes: 4096 });
    assert.equal(result.code, 0);
    assert.equal(result.stdoutTruncated, true);
    assert.equal(result.stdout, "0123456789\n".repeat(1000).slice(0, 4096));
    assert.equal(result.stderr, "e\n");
    assert.equal(result.stderrTruncated, false);
  });
});
