import assert from "node:assert/strict";
import { join } from "node:path";
import { readManifest } from "../../../src/natives/mod.ts";
import { runEdgellm } from "../../_util/cli.ts";
import { corrupt, ensureBundle } from "../../_util/natives.ts";

const X86 = "x86_64-unknown-linux-gnu";

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  await ensureBundle("x86_64-unknown-linux-gnu");
  await ensureBundle("aarch64-unknown-linux-gnu");
  const home = await Deno.makeTempDir();
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("natives list --json shows the checkout bundles with their llama.cpp build", async () => {
  await withHome(async (home) => {
    const result = await runEdgellm(["natives", "list", "--json"], { home });
    assert.equal(result.code, 0, result.stderr);
    const { bundles, engines } = JSON.parse(result.stdout);
    const manifest = await readManifest(await ensureBundle(X86));
    assert.deepEqual(bundles.map((bundle: { target: string }) => bundle.target), [
      "x86_64-unknown-linux-gnu",
      "aarch64-unknown-linux-gnu",
    ]);
    assert.equal(bundles[0].origin, "checkout");
    assert.deepEqual(bundles[0].llama_cpp, manifest.llama_cpp);
    assert.equal(bundles[0].files, manifest.files.length);
    assert.deepEqual(engines, []);
  });
});

Deno.test("natives verify --target all exits 0 when every bundle matches its manifest", async () => {
  await withHome(async (home) => {
    const result = await runEdgellm(["natives", "verify", "--target", "all"], { home });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ok {2}x86_64-unknown-linux-gnu /m);
    assert.match(result.stdout, /^ok {2}aarch64-unknown-linux-gnu /m);
  });
});

Deno.test("natives verify exits 1 when a configured engine_path is missing", async () => {
  await withHome(async (home) => {
    const config = join(home, "edgellm.toml");
    await Deno.writeTextFile(
      config,
      `[models.tiny]\npath = "/opt/models/tiny.gguf"\n\n[runtimes.chat]\nmodel = "tiny"\n` +
        `engine_path = "/opt/bitnet/bin/llama-server"\n`,
    );
    const result = await runEdgellm(["natives", "verify", "--json"], { home, config });
    assert.equal(result.code, 1, result.stderr);
    const { bundles, engines } = JSON.parse(result.stdout);
    assert.equal(bundles[0].ok, true);
    assert.deepEqual(engines, [
      { runtime: "chat", engine_path: "/opt/bitnet/bin/llama-server", ok: false },
    ]);
  });
});

Deno.test("natives verify --target rejects an unknown target with exit code 2", async () => {
  await withHome(async (home) => {
    const result = await runEdgellm(["natives", "verify", "--target", "riscv64"], { home });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Cannot use --target "riscv64"/);
  });
});

Deno.test("natives extract extracts into the home once and repairs a changed file", async () => {
  await withHome(async (home) => {
    const extract = async () => {
      const result = await runEdgellm(["natives", "extract", "--json"], { home });
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout).extracted[0];
    };
    const first = await extract();
    assert.equal(first.status, "extracted");
    assert.ok(first.dir.startsWith(join(home, "natives") + "/"));
    assert.equal((await extract()).status, "present");
    await corrupt(join(first.dir, "lib/libllama.so.0"));
    assert.deepEqual(await extract(), { ...first, status: "repaired" });
  });
});
