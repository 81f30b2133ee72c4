import assert from "node:assert/strict";
import { join } from "node:path";
import { writeChecksums } from "../../../src/compile/mod.ts";

Deno.test("writeChecksums() lists each built executable in the format sha256sum -c checks", async () => {
  const dist = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dist, "edgellm-x86_64-unknown-linux-gnu"), "x86");
    await Deno.writeTextFile(join(dist, "edgellm-aarch64-unknown-linux-gnu"), "arm");
    await Deno.writeTextFile(join(dist, "notes.txt"), "not a build output");
    const files = await writeChecksums(dist);
    assert.deepEqual(files.map((f) => [f.name, f.size]), [
      ["edgellm-x86_64-unknown-linux-gnu", 3],
      ["edgellm-aarch64-unknown-linux-gnu", 3],
    ]);
    const check = await new Deno.Command("sha256sum", {
      args: ["--check", "--strict", "SHA256SUMS"],
      cwd: dist,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
    assert.equal(
      new TextDecoder().decode(check.stdout),
      "edgellm-x86_64-unknown-linux-gnu: OK\nedgellm-aarch64-unknown-linux-gnu: OK\n",
    );
  } finally {
    await Deno.remove(dist, { recursive: true });
  }
});

Deno.test("writeChecksums() writes an empty list when nothing was built", async () => {
  const dist = await Deno.makeTempDir();
  try {
    assert.deepEqual(await writeChecksums(dist), []);
    assert.equal(await Deno.readTextFile(join(dist, "SHA256SUMS")), "");
  } finally {
    await Deno.remove(dist, { recursive: true });
  }
});
