import assert from "node:assert/strict";
import { parseManifest, readManifest } from "../../../src/natives/mod.ts";
import { ensureBundle } from "../../_util/natives.ts";

Deno.test("parseManifest accepts the manifest that assembling writes", async () => {
  const dir = await ensureBundle("x86_64-unknown-linux-gnu");
  const manifest = await readManifest(dir);
  assert.equal(manifest.target, "x86_64-unknown-linux-gnu");
  assert.ok(manifest.files.some((file) => file.path === manifest.loader));
});

Deno.test("parseManifest names every offending field", async () => {
  const dir = await ensureBundle("x86_64-unknown-linux-gnu");
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  manifest.files[0].sha256 = "xyz";
  manifest.files[1].path = "../../etc/passwd";
  manifest.loader = "lib/missing.so";
  assert.throws(
    () => parseManifest(JSON.stringify(manifest)),
    (error) =>
      error instanceof SyntaxError && /files\.0\.sha256/.test(error.message) &&
      /files\.1\.path: must be a relative path inside the bundle/.test(error.message) &&
      /loader: "lib\/missing.so" is not in files/.test(error.message),
  );
});

Deno.test("parseManifest throws a SyntaxError when the text is not JSON", () => {
  assert.throws(
    () => parseManifest("{"),
    (error) => error instanceof SyntaxError && /^Cannot parse bundle manifest/.test(error.message),
  );
});
