/** What `prepareConfig` makes of the bundle's llama-completion (review finding 6). */
import assert from "node:assert/strict";
import { createLogger } from "../../../src/log/mod.ts";
import { BundleNotFoundError } from "../../../src/natives/mod.ts";
import { prepareConfig } from "../../../src/supervisor/prepare_config.ts";
import { testConfig } from "../../_util/supervisor.ts";

function options(execLine: () => never, lines: string[] = []) {
  return {
    home: "/nonexistent/home",
    execLine,
    resolveModel: () => "/nonexistent/m.gguf",
    stopGraceMs: 1000,
    logger: createLogger({ format: "json", level: "debug", write: (line) => lines.push(line) }),
  };
}

Deno.test("prepareConfig turns inference jobs off without a bundle and says why", async () => {
  const lines: string[] = [];
  const missing = new BundleNotFoundError("x86_64-unknown-linux-gnu", "/nonexistent/natives");
  const prepared = await prepareConfig(
    testConfig("/nonexistent/m.gguf", ""),
    options(() => {
      throw missing;
    }, lines),
  );
  assert.equal(prepared.completion, undefined);
  const logged = lines.map((line) => JSON.parse(line));
  assert.ok(
    logged.some((r) =>
      r.msg === "inference jobs are off: no llama-completion" &&
      String(r.reason).includes("Cannot find the llama.cpp bundle")
    ),
    lines.join("\n"),
  );
});

Deno.test("prepareConfig lets an unexpected error of execLine through instead of hiding it", async () => {
  // Before the fix a bare catch took any failure (here a bundle that fails verification) for
  // "no bundle" and silently turned inference jobs off.
  const broken = new Error("Cannot verify the bundle: sha256 mismatch");
  await assert.rejects(
    prepareConfig(
      testConfig("/nonexistent/m.gguf", ""),
      options(() => {
        throw broken;
      }),
    ),
    (error: unknown) => error === broken,
  );
});
