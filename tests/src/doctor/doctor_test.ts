import assert from "node:assert/strict";
import { join } from "node:path";
import { parseConfig } from "../../../src/config/mod.ts";
import { doctor } from "../../../src/doctor/mod.ts";
import { runEdgellm } from "../../_util/cli.ts";
import { copyBundle, corrupt, ensureBundle } from "../../_util/natives.ts";
import { writeTinyModel } from "../../_util/tiny_model.ts";

const X86 = "x86_64-unknown-linux-gnu";

interface Check {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  fix?: string;
}

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  await ensureBundle(X86);
  const home = await Deno.makeTempDir();
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

function byName(checks: readonly Check[], name: string): Check {
  const check = checks.find((c) => c.name === name);
  assert.ok(check, `no check "${name}" in ${checks.map((c) => c.name).join(", ")}`);
  return check;
}

Deno.test("doctor --json reports the bundle, llama.cpp, CPU, memory, disk, model and port", async () => {
  await withHome(async (home) => {
    const model = join(home, "tiny.gguf");
    await writeTinyModel(model);
    const config = join(home, "edgellm.toml");
    // Port 0 is always free; the port check binds it and lets go.
    await Deno.writeTextFile(config, `[server]\nport = 0\n\n[models.tiny]\npath = "${model}"\n`);
    const result = await runEdgellm(["doctor", "--json"], { home, config });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const { ok, checks } = JSON.parse(result.stdout) as { ok: boolean; checks: Check[] };
    assert.equal(ok, true);
    assert.deepEqual(checks.map((check) => check.name), [
      "bundle",
      "llama.cpp",
      "cpu backend",
      "cpu",
      "memory",
      "disk",
      "model tiny",
      "port",
    ]);
    assert.match(byName(checks, "bundle").detail, /files verified/);
    assert.match(byName(checks, "llama.cpp").detail, /llama-server --version: \S+ build \d+/);
    assert.match(byName(checks, "cpu backend").detail, /libggml-cpu-\S+\.so/);
    // Under edgellm's permissions /proc/cpuinfo is unreadable; ggml's variant names the features.
    assert.match(byName(checks, "cpu").detail, /^\d+ CPUs.*; features: those of ggml's "\S+" CPU/);
    assert.match(byName(checks, "memory").detail, /GiB available of [\d.]+ GiB/);
    assert.match(byName(checks, "disk").detail, /GiB free in /);
    assert.match(byName(checks, "model tiny").detail, /tiny\.gguf: llama F32/);
  });
});

Deno.test("doctor exits 1 with the fix when a model is broken, an engine_path missing, the port taken", async () => {
  await withHome(async (home) => {
    const broken = join(home, "broken.gguf");
    await Deno.writeTextFile(broken, "<html>not found</html>");
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const config = join(home, "edgellm.toml");
    await Deno.writeTextFile(
      config,
      `[server]\nport = ${listener.addr.port}\n\n[models.broken]\npath = "${broken}"\n\n` +
        `[runtimes.chat]\nmodel = "broken"\nengine_path = "/opt/bitnet/bin/llama-server"\n`,
    );
    const result = await runEdgellm(["doctor"], { home, config });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /^FAIL {2}model broken +Cannot read GGUF file '.*broken\.gguf'/m);
    assert.match(
      result.stdout,
      /^FAIL {2}engine_path chat +\/opt\/bitnet\/bin\/llama-server does not exist/m,
    );
    assert.match(result.stdout, /^FAIL {2}port +127\.0\.0\.1:\d+ is in use/m);
    assert.match(result.stdout, /fix: stop what listens there/);
    assert.match(
      result.stderr,
      /doctor: 3 check\(s\) failed: model broken, engine_path chat, port/,
    );
  });
});

Deno.test("doctor fails the bundle check naming the file when a bundle file is corrupt", async () => {
  await withHome(async (home) => {
    const distDir = join(home, "dist");
    await copyBundle(await ensureBundle(X86), join(distDir, X86));
    await corrupt(join(distDir, X86, "lib/libllama.so.0"));
    const checks = await doctor({ config: parseConfig(""), home }, {
      target: X86,
      distDir,
      embedded: false,
    });
    const bundle = byName(checks, "bundle");
    assert.equal(bundle.status, "fail");
    assert.match(bundle.detail, /libllama\.so\.0/);
    assert.match(bundle.fix ?? "", /deno task natives/);
    // Nothing runs from a bundle that failed verification.
    assert.equal(checks.some((check) => check.name === "llama.cpp"), false);
  });
});

Deno.test("edgellm doctor exits 1 naming the file when a file of its bundle is corrupt", async () => {
  await withHome(async (home) => {
    // The CLI of a checkout always uses native/dist, so the corrupted copy takes the real
    // file's place while this test runs (test files run one at a time) and the original goes
    // back afterwards. Were the test killed midway, the bundle would fail verification and the
    // next `ensureBundle` would rebuild it.
    const file = join(await ensureBundle(X86), "lib/libllama.so.0");
    const original = join(home, "libllama.so.0");
    await Deno.copyFile(file, original);
    try {
      await corrupt(file);
      const result = await runEdgellm(["doctor", "--json"], { home });
      assert.equal(result.code, 1, result.stderr);
      const bundle = byName(JSON.parse(result.stdout).checks, "bundle");
      assert.equal(bundle.status, "fail");
      assert.match(bundle.detail, /lib\/libllama\.so\.0/);
    } finally {
      await Deno.copyFile(original, file);
    }
  });
});
