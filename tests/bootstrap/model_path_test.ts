import assert from "node:assert/strict";
import { join } from "node:path";
import { ModelNotBootstrappedError, resolveModelPath } from "../../bootstrap/mod.ts";
import { parseConfig } from "../../src/config/mod.ts";
import { UsageError } from "../../src/errors.ts";
import { bootstrapFixture, fakeBytes, repoDir } from "../_util/bootstrap_fixture.ts";
import { runEdgellm } from "../_util/cli.ts";

Deno.test("resolveModelPath gives the first included GGUF of the ref's snapshot", async () => {
  await using fx = await bootstrapFixture();
  const commit = fx.hub.commit("org/split", [
    { path: "README.md", content: new TextEncoder().encode("x") },
    { path: "m-Q4_K_M-00002-of-00002.gguf", content: fakeBytes(1000, 2) },
    { path: "m-Q4_K_M-00001-of-00002.gguf", content: fakeBytes(1000, 1) },
    { path: "m-Q8_0.gguf", content: fakeBytes(1000, 3) },
  ]);
  const text = `[models.split]\nhf_repo = "org/split"\ninclude = ["*Q4_K_M*"]\n\n` +
    `[models.pinned]\nhf_repo = "org/split"\nrevision = "${commit}"\ninclude = ["*Q8_0.gguf"]\n`;
  const config = parseConfig(text, { env: {} });
  await assert.rejects(
    resolveModelPath(config, "split", { home: fx.home }),
    (error: unknown) =>
      error instanceof ModelNotBootstrappedError && error.model === "split" &&
      /run `edgellm bootstrap`/.test(error.message),
  );
  const configPath = join(fx.home, "edgellm.toml");
  await Deno.writeTextFile(configPath, text);
  const run = await runEdgellm(["bootstrap"], { home: fx.home, config: configPath, env: fx.env });
  assert.equal(run.code, 0, run.stderr);
  const snapshot = join(repoDir(fx.home, "org/split"), "snapshots", commit);
  assert.equal(
    await resolveModelPath(config, "split", { home: fx.home }),
    join(snapshot, "m-Q4_K_M-00001-of-00002.gguf"),
  );
  assert.equal(
    await resolveModelPath(config, "pinned", { home: fx.home }),
    join(snapshot, "m-Q8_0.gguf"),
  );
});

Deno.test("resolveModelPath returns a path model's file and rejects unknown ids", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "local.gguf");
    const config = parseConfig(`[models.local]\npath = "${file}"\n`, { env: {} });
    await assert.rejects(
      resolveModelPath(config, "local", { home: dir }),
      ModelNotBootstrappedError,
    );
    await Deno.writeFile(file, fakeBytes(10));
    assert.equal(await resolveModelPath(config, "local", { home: dir }), file);
    await assert.rejects(resolveModelPath(config, "nope", { home: dir }), UsageError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
