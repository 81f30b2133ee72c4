import assert from "node:assert/strict";
import { join } from "node:path";
import { findHubModelFile } from "../../bootstrap/mod.ts";
import { parseConfig } from "../../src/config/mod.ts";
import { ModelNotAvailableError, resolveModelFile } from "../../src/models/mod.ts";
import { bootstrapFixture, fakeBytes, repoDir } from "../_util/bootstrap_fixture.ts";
import { runEdgellm } from "../_util/cli.ts";

Deno.test("resolveModelFile gives the first included GGUF of the ref's snapshot", async () => {
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
  assert.throws(
    () => resolveModelFile("split", config, fx.home),
    (error: unknown) =>
      error instanceof ModelNotAvailableError && error.model === "split" &&
      /org\/split@main is not bootstrapped; run `edgellm bootstrap`/.test(error.message),
  );
  const configPath = join(fx.home, "edgellm.toml");
  await Deno.writeTextFile(configPath, text);
  const run = await runEdgellm(["bootstrap"], { home: fx.home, config: configPath, env: fx.env });
  assert.equal(run.code, 0, run.stderr);
  const snapshot = join(repoDir(fx.home, "org/split"), "snapshots", commit);
  assert.equal(
    resolveModelFile("split", config, fx.home),
    join(snapshot, "m-Q4_K_M-00001-of-00002.gguf"),
  );
  assert.equal(resolveModelFile("pinned", config, fx.home), join(snapshot, "m-Q8_0.gguf"));
});

Deno.test("findHubModelFile says what is missing", async () => {
  await using fx = await bootstrapFixture();
  const model = { repo: "org/tiny", revision: "main", include: ["*.bin"] };
  assert.match(findHubModelFile(model, fx.home).missing ?? "", /not bootstrapped/);
  const run = await runEdgellm(["bootstrap", "--hf-repo", "org/tiny"], {
    home: fx.home,
    env: fx.env,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    findHubModelFile(model, fx.home).missing ?? "",
    /^the snapshot org\/tiny@[0-9a-f]{40} has no \.gguf file matching \["\*\.bin"\]$/,
  );
});
