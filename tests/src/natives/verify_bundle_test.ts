import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BundleIntegrityError,
  loadBundle,
  readManifest,
  sha256File,
  verifyBundle,
} from "../../../src/natives/mod.ts";
import { copyBundle, corrupt, ensureBundle } from "../../_util/natives.ts";

const TARGET = "x86_64-unknown-linux-gnu";

Deno.test("verifyBundle names the file and both hashes when a file was changed", async () => {
  const copy = await Deno.makeTempDir();
  try {
    await copyBundle(await ensureBundle(TARGET), copy);
    const manifest = await readManifest(copy);
    const path = "lib/libllama.so.0";
    await corrupt(join(copy, path));
    const { sha256: actual } = await sha256File(join(copy, path));
    const expected = manifest.files.find((file) => file.path === path)!.sha256;
    await assert.rejects(verifyBundle(copy, manifest), (error) => {
      assert.ok(error instanceof BundleIntegrityError);
      assert.equal(error.path, path);
      assert.equal(error.expected, expected);
      assert.equal(error.actual, actual);
      assert.match(error.message, new RegExp(`'${path}' has sha256 "${actual}".*"${expected}"`));
      return true;
    });
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("verifyBundle reports a missing file with a null actual hash", async () => {
  const copy = await Deno.makeTempDir();
  try {
    await copyBundle(await ensureBundle(TARGET), copy);
    await Deno.remove(join(copy, "bin/llama-server"));
    await assert.rejects(verifyBundle(copy, await readManifest(copy)), (error) => {
      assert.ok(error instanceof BundleIntegrityError);
      assert.equal(error.path, "bin/llama-server");
      assert.equal(error.actual, null);
      assert.match(error.message, /'bin\/llama-server' is missing/);
      return true;
    });
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("loadBundle refuses a checkout bundle whose file was changed", async () => {
  const distDir = await Deno.makeTempDir();
  try {
    await copyBundle(await ensureBundle(TARGET), join(distDir, TARGET));
    await corrupt(join(distDir, TARGET, "lib/libc.so.6"));
    await assert.rejects(
      loadBundle("/nonexistent", { target: TARGET, distDir, embedded: false }),
      (error) => error instanceof BundleIntegrityError && error.path === "lib/libc.so.6",
    );
  } finally {
    await Deno.remove(distDir, { recursive: true });
  }
});
