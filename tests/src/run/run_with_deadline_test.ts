import assert from "node:assert/strict";
import { runWithDeadline } from "../../../src/run/mod.ts";

const SH = "/bin/sh";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("runWithDeadline returns the exit code and both outputs of a process that ends", async () => {
  const result = await runWithDeadline({
    command: SH,
    args: ["-c", "echo out; echo err >&2; exit 3"],
  }, { timeoutMs: 10_000 });
  assert.equal(result.code, 3);
  assert.equal(result.stdout, "out\n");
  assert.equal(result.stderr, "err\n");
  assert.equal(result.timedOut, false);
  assert.equal(result.stoppedWith, null);
});

Deno.test("runWithDeadline stops a process with SIGTERM when the deadline passes", async () => {
  const result = await runWithDeadline({
    command: SH,
    args: ["-c", "echo started; exec sleep 60"],
  }, { timeoutMs: 200 });
  assert.equal(result.timedOut, true);
  assert.equal(result.signal, "SIGTERM");
  assert.equal(result.stoppedWith, "SIGTERM");
  assert.equal(result.stdout, "started\n");
  assert.equal(exists(`/proc/${result.pid}`), false);
});

Deno.test("runWithDeadline kills a process that ignores SIGTERM after the grace", async () => {
  const result = await runWithDeadline({
    command: SH,
    args: ["-c", "trap '' TERM; while :; do :; done"],
  }, { timeoutMs: 100, graceMs: 200 });
  assert.equal(result.timedOut, true);
  assert.equal(result.signal, "SIGKILL");
  assert.equal(result.stoppedWith, "SIGKILL");
  assert.equal(exists(`/proc/${result.pid}`), false);
});

Deno.test("runWithDeadline stops the process when its signal aborts", async () => {
  const controller = new AbortController();
  const running = runWithDeadline({ command: SH, args: ["-c", "exec sleep 60"] }, {
    signal: controller.signal,
  });
  controller.abort();
  const result = await running;
  assert.equal(result.aborted, true);
  assert.equal(result.timedOut, false);
  assert.equal(result.signal, "SIGTERM");
  assert.equal(exists(`/proc/${result.pid}`), false);
});
