import assert from "node:assert/strict";
import { join } from "node:path";
import { detectCpuVariant, readManifest } from "../../../src/natives/mod.ts";
import { ensureBundle } from "../../_util/natives.ts";

Deno.test("detectCpuVariant returns the libggml-cpu variant ggml loads from the bundle", async () => {
  const dir = await ensureBundle("x86_64-unknown-linux-gnu");
  const manifest = await readManifest(dir);
  const found = await detectCpuVariant({ bundle: { dir, manifest }, executable: "llama-server" }, {
    host: "x86_64-unknown-linux-gnu",
  });
  assert.ok(found !== null);
  assert.equal(found.library, join(dir, "lib", `libggml-cpu-${found.variant}.so`));
  assert.ok(manifest.files.some((file) => file.path === `lib/libggml-cpu-${found.variant}.so`));
});

Deno.test("detectCpuVariant returns null for an engine that loads no CPU backend library", async () => {
  assert.equal(await detectCpuVariant({ enginePath: "/usr/bin/true" }), null);
});
