import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  bundleHash,
  engineVersion,
  extractBundle,
  loadBundle,
  MANIFEST_FILE,
  readManifest,
  sha256File,
  verifyBundle,
} from "../../../src/natives/mod.ts";
import { corrupt, ensureBundle } from "../../_util/natives.ts";
import { waitFor } from "../../_util/wait_for.ts";

const TARGET = "x86_64-unknown-linux-gnu";
const CHILD = fileURLToPath(new URL("../../testdata/extract_bundle_main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../../deno.json", import.meta.url));

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir();
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

async function naturalDir(source: string, home: string): Promise<string> {
  const text = await Deno.readTextFile(join(source, MANIFEST_FILE));
  return join(home, "natives", bundleHash(text));
}

Deno.test("extractBundle extracts once into <home>/natives/<hash> and then finds it present", async () => {
  const source = await ensureBundle(TARGET);
  await withHome(async (home) => {
    const first = await extractBundle(source, home);
    assert.equal(first.status, "extracted");
    assert.equal(first.bundle.dir, await naturalDir(source, home));
    assert.equal(first.bundle.origin, "extracted");
    await verifyBundle(first.bundle.dir, await readManifest(first.bundle.dir));
    const second = await extractBundle(source, home);
    assert.equal(second.status, "present");
    // Only the bundle and the lock: no temporary folders left behind.
    assert.deepEqual(
      [...Deno.readDirSync(join(home, "natives"))].map((entry) => entry.name).sort(),
      [".lock", first.bundle.dir.split("/").pop()],
    );
  });
});

Deno.test("extractBundle does not collide when two processes extract at once", async () => {
  const source = await ensureBundle(TARGET);
  await withHome(async (home) => {
    // Hold the extraction lock until both processes have found nothing extracted and wait
    // for it, so both really are first runs racing for the same folder.
    await Deno.mkdir(join(home, "natives"));
    const lockPath = join(home, "natives", ".lock");
    const lock = await Deno.open(lockPath, { create: true, write: true });
    await lock.lock(true);
    const { ino } = await Deno.stat(lockPath);
    const run = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--config", CONFIG, CHILD, source, home],
        stdin: "null",
      }).output();
    const outputs = Promise.all([run(), run()]);
    try {
      await waitFor("both processes to wait for the lock", async () => {
        const locks = await Deno.readTextFile("/proc/locks");
        return locks.split("\n").filter((line) => line.includes("->") && line.includes(`:${ino} `))
          .length === 2;
      });
    } finally {
      lock.close();
    }
    const statuses = (await outputs).map((output) => {
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      return new TextDecoder().decode(output.stdout).trim();
    }).sort();
    assert.deepEqual(statuses, ["extracted", "present"]);
    const dir = await naturalDir(source, home);
    await verifyBundle(dir, await readManifest(dir));
    assert.deepEqual(
      [...Deno.readDirSync(join(home, "natives"))].map((entry) => entry.name).sort(),
      [".lock", dir.split("/").pop()],
    );
  });
});

Deno.test("extractBundle extracts once when called concurrently in one process", async () => {
  const source = await ensureBundle(TARGET);
  await withHome(async (home) => {
    const results = await Promise.all([1, 2, 3].map(() => extractBundle(source, home)));
    assert.deepEqual(results.map((result) => result.status).sort(), [
      "extracted",
      "present",
      "present",
    ]);
  });
});

Deno.test("extractBundle re-extracts a tampered extracted file", async () => {
  const source = await ensureBundle(TARGET);
  await withHome(async (home) => {
    const { bundle } = await extractBundle(source, home);
    const path = join(bundle.dir, "lib/libggml-base.so.0");
    const original = await sha256File(path);
    await corrupt(path);
    const repaired = await extractBundle(source, home);
    assert.equal(repaired.status, "repaired");
    assert.deepEqual(await sha256File(path), original);
    await verifyBundle(bundle.dir, bundle.manifest);
  });
});

Deno.test("extractBundle re-extracts when an extracted file was deleted", async () => {
  const source = await ensureBundle(TARGET);
  await withHome(async (home) => {
    const { bundle } = await extractBundle(source, home);
    await Deno.remove(join(bundle.dir, "bin/llama-server"));
    assert.equal((await extractBundle(source, home)).status, "repaired");
    await verifyBundle(bundle.dir, bundle.manifest);
  });
});

Deno.test("loadBundle extracts an embedded bundle whose llama-server then runs", async () => {
  const source = await ensureBundle(TARGET);
  await withHome(async (home) => {
    const distDir = join(source, "..");
    const bundle = await loadBundle(home, { target: TARGET, distDir, embedded: true });
    assert.equal(bundle.dir, await naturalDir(source, home));
    const version = await engineVersion({ bundle, executable: "llama-server" });
    assert.equal(version.build, bundle.manifest.llama_cpp.build);
  });
});
