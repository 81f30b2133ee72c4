import assert from "node:assert/strict";
import { assertNoProcesses } from "../_util/processes.ts";

const REPO_ROOT = new URL("../..", import.meta.url).pathname;

Deno.test("deno task demo --once bootstraps, serves and prints a completion, leaving nothing running", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgellm_demo_test_" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "demo", "--once", "--dir", dir],
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(180_000),
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    // The completion is the only thing on stdout: the prompt and the generated tokens.
    assert.match(stdout, /^Once upon a time.+\n$/s, stderr);
    assert.match(stderr, /model imported/);
    await assertNoProcesses(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
