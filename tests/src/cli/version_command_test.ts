import assert from "node:assert/strict";
import { readManifest } from "../../../src/natives/mod.ts";
import { runEdgellm } from "../../_util/cli.ts";
import { ensureBundle } from "../../_util/natives.ts";

Deno.test("version --json names edgellm, Deno, the target and the bundle's llama.cpp build", async () => {
  const manifest = await readManifest(await ensureBundle("x86_64-unknown-linux-gnu"));
  const home = await Deno.makeTempDir();
  try {
    const result = await runEdgellm(["version", "--json"], { home });
    assert.equal(result.code, 0, result.stderr);
    const info = JSON.parse(result.stdout);
    assert.equal(info.deno, Deno.version.deno);
    assert.equal(info.target, "x86_64-unknown-linux-gnu");
    assert.deepEqual(info.llama_cpp, manifest.llama_cpp);
    const text = await runEdgellm(["version"], { home });
    assert.match(text.stdout, /^llama\.cpp \S+ build \d+ \(.+\)$/m);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
