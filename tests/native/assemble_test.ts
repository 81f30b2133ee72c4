import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { assembleBundle, parseElfDynamic } from "../../native/mod.ts";
import { DEBIAN_TARGETS } from "../../native/_util.ts";
import {
  execLine,
  readManifest,
  type Target,
  TARGETS,
  verifyBundle,
} from "../../src/natives/mod.ts";
import { ensureBundle } from "../_util/natives.ts";

/** A mirror nothing listens on: any download attempt fails at once. */
const UNREACHABLE_MIRROR = "http://127.0.0.1:9/debian";

for (const target of TARGETS) {
  Deno.test(`assembleBundle resolves every NEEDED of ${target} inside lib/`, async () => {
    const dir = await ensureBundle(target);
    const manifest = await readManifest(dir);
    await verifyBundle(dir, manifest);
    const libs = new Set(
      manifest.files.filter((file) => file.path.startsWith("lib/")).map((file) =>
        basename(file.path)
      ),
    );
    assert.equal(manifest.loader, `lib/${basename(manifest.loader)}`);
    assert.ok(libs.has(basename(manifest.loader)));
    assert.ok([...libs].some((name) => name.startsWith("libggml-cpu-")));
    for (const file of manifest.files) {
      const elf = parseElfDynamic(await Deno.readFile(join(dir, file.path)));
      assert.equal(elf.machine, DEBIAN_TARGETS[target].machine, file.path);
      for (const needed of elf.needed) {
        assert.ok(libs.has(needed), `${file.path} needs ${needed}, which lib/ lacks`);
      }
    }
  });

  Deno.test(`assembleBundle does no network work when ${target} is present`, async () => {
    await ensureBundle(target);
    const cacheDir = await Deno.makeTempDir();
    const lines: string[] = [];
    try {
      const result = await assembleBundle(target, {
        mirror: UNREACHABLE_MIRROR,
        cacheDir,
        log: (line) => lines.push(line),
      });
      assert.equal(result.built, false);
      assert.deepEqual(lines.filter((line) => line.startsWith("fetch")), []);
      assert.deepEqual([...Deno.readDirSync(cacheDir)], []);
    } finally {
      await Deno.remove(cacheDir, { recursive: true });
    }
  });
}

Deno.test("assembleBundle rebuilds offline from the download cache alone", async () => {
  const target: Target = "x86_64-unknown-linux-gnu";
  const manifest = await readManifest(await ensureBundle(target));
  const distDir = await Deno.makeTempDir();
  const lines: string[] = [];
  try {
    const result = await assembleBundle(target, {
      distDir,
      mirror: UNREACHABLE_MIRROR,
      offline: true,
      log: (line) => lines.push(line),
    });
    assert.equal(result.built, true);
    assert.deepEqual(lines.filter((line) => line.startsWith("fetch")), []);
    // Same Release, same packages: the same files.
    assert.deepEqual(result.manifest.files, manifest.files);
    assert.deepEqual(result.manifest.source, manifest.source);
    await verifyBundle(result.dir, result.manifest);
    assert.deepEqual([...Deno.readDirSync(distDir)].map((entry) => entry.name).sort(), [
      `.${target}.lock`,
      target,
    ]);
  } finally {
    await Deno.remove(distDir, { recursive: true });
  }
});

Deno.test("bundled llama-server prints its version on x86_64 with an empty environment", async () => {
  const target: Target = "x86_64-unknown-linux-gnu";
  const dir = await ensureBundle(target);
  const manifest = await readManifest(dir);
  const line = execLine({ bundle: { dir, manifest }, executable: "llama-server" }, ["--version"], {
    host: target,
  });
  assert.equal(line.command, join(dir, "lib/ld-linux-x86-64.so.2"));
  const output = await new Deno.Command(line.command, { args: line.args, clearEnv: true }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, text);
  assert.match(text, new RegExp(`version: \\S+ \\(build ${manifest.llama_cpp.build},`));
});

Deno.test("bundled llama-server prints its version on aarch64 under qemu", async () => {
  const dir = await ensureBundle("aarch64-unknown-linux-gnu");
  const manifest = await readManifest(dir);
  const line = execLine({ bundle: { dir, manifest }, executable: "llama-server" }, ["--version"], {
    host: "x86_64-unknown-linux-gnu",
  });
  assert.equal(line.command, "/usr/bin/qemu-aarch64-static");
  assert.equal(line.args[0], join(dir, "lib/ld-linux-aarch64.so.1"));
  const output = await new Deno.Command(line.command, { args: line.args, clearEnv: true }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, text);
  assert.match(text, new RegExp(`version: \\S+ \\(build ${manifest.llama_cpp.build},`));
});
