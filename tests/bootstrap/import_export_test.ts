import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { exists } from "../../src/_util/exists.ts";
import {
  bootstrapFixture,
  fakeBytes,
  GGUF,
  listTree,
  REPO,
  repoDir,
  sha256Hex,
  sha256OfFile,
} from "../_util/bootstrap_fixture.ts";
import { runEdgellm } from "../_util/cli.ts";

const COMMIT = "0123456789abcdef0123456789abcdef01234567";

function gitBlobId(content: Uint8Array): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

/** Writes a Hugging Face cache as huggingface_hub lays it out (blobs, relative links, refs). */
async function writeHfCache(
  root: string,
  files: { path: string; content: Uint8Array; lfs: boolean }[],
): Promise<void> {
  const repo = join(root, "models--org--tiny");
  await Deno.mkdir(join(repo, "blobs"), { recursive: true });
  await Deno.mkdir(join(repo, "refs"), { recursive: true });
  await Deno.writeTextFile(join(repo, "refs", "main"), COMMIT);
  for (const file of files) {
    const etag = file.lfs ? sha256Hex(file.content) : gitBlobId(file.content);
    await Deno.writeFile(join(repo, "blobs", etag), file.content);
    const link = join(repo, "snapshots", COMMIT, file.path);
    await Deno.mkdir(join(link, ".."), { recursive: true });
    const depth = file.path.split("/").length - 1;
    await Deno.symlink(`${"../".repeat(depth + 2)}blobs/${etag}`, link);
  }
}

Deno.test("bootstrap --from imports a Hugging Face cache, verifying every file, with no network", async () => {
  await using fx = await bootstrapFixture();
  // Where an operator drops a folder on a device: its binary may read the home.
  const cache = join(fx.home, "import", "huggingface");
  const gguf = fakeBytes(50_000, 3);
  const config = new TextEncoder().encode("{}\n");
  await writeHfCache(join(cache, "hub"), [
    { path: GGUF, content: gguf, lfs: true },
    { path: "sub/config.json", content: config, lfs: false },
  ]);
  // `~/.cache/huggingface` (holding `hub/`) and `~/.cache/huggingface/hub` both work.
  for (const from of [cache, join(cache, "hub")]) {
    const result = await runEdgellm(
      [
        "bootstrap",
        "--hf-repo",
        REPO,
        "--include",
        "*.gguf",
        "--include",
        "*.json",
        "--from",
        from,
        "--json",
      ],
      { home: fx.home, env: fx.env },
    );
    assert.equal(result.code, 0, result.stderr);
  }
  assert.equal(fx.hub.counters.log.length, 0);
  const snapshot = join(repoDir(fx.home), "snapshots", COMMIT);
  assert.equal(await sha256OfFile(join(snapshot, GGUF)), sha256Hex(gguf));
  assert.equal(
    await Deno.readLink(join(snapshot, "sub/config.json")),
    `../../../blobs/${gitBlobId(config)}`,
  );
  assert.equal(await Deno.readTextFile(join(repoDir(fx.home), "refs", "main")), COMMIT);
  // Then it is usable offline.
  const offline = await runEdgellm(["bootstrap", "--hf-repo", REPO, "--offline"], {
    home: fx.home,
    env: fx.env,
  });
  assert.equal(offline.code, 0, offline.stderr);
});

Deno.test("bootstrap --from refuses a cache blob whose content does not match its name", async () => {
  await using fx = await bootstrapFixture();
  const cache = join(fx.home, "import", "huggingface");
  const gguf = fakeBytes(10_000, 3);
  await writeHfCache(cache, [{ path: GGUF, content: gguf, lfs: true }]);
  const blob = join(cache, "models--org--tiny", "blobs", sha256Hex(gguf));
  await Deno.writeFile(blob, fakeBytes(10_000, 4));
  const result = await runEdgellm(["bootstrap", "--hf-repo", REPO, "--from", cache], {
    home: fx.home,
    env: fx.env,
  });
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`sha256 expected ${sha256Hex(gguf)}, got [0-9a-f]{64}`));
  assert.deepEqual(await Array.fromAsync(Deno.readDir(join(repoDir(fx.home), "blobs"))), []);
  assert.equal(await exists(join(repoDir(fx.home), "snapshots")), false);
});

Deno.test("bootstrap --from refuses, with exit 2 and the folders it may read, a source outside them", async () => {
  await using fx = await bootstrapFixture();
  const outside = await Deno.makeTempDir();
  try {
    await writeHfCache(outside, [{ path: GGUF, content: fakeBytes(1000, 3), lfs: true }]);
    const result = await runEdgellm(["bootstrap", "--hf-repo", REPO, "--from", outside], {
      home: fx.home,
      env: fx.env,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `Cannot read '${outside}': this edgellm may only read under ${fx.home}, /media, /mnt, ` +
        "/run/media and the paths it was built to allow; copy it under one of them " +
        `(e.g. ${fx.home}/import/) or rebuild with \`compile.ts --allow-read <dir>\`\n`,
      "one line, no stack trace",
    );
    assert.equal(await exists(join(repoDir(fx.home), "snapshots")), false);

    // A build that allows the folder (`compile.ts --allow-read`) imports from it.
    const allowed = await runEdgellm(["bootstrap", "--hf-repo", REPO, "--from", outside], {
      home: fx.home,
      env: fx.env,
      allowRead: [outside],
    });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(fx.hub.counters.log.length, 0);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("bundle export then bootstrap --from --offline round-trips with zero network", async () => {
  await using fx = await bootstrapFixture();
  const config = join(fx.home, "edgellm.toml");
  await Deno.writeTextFile(
    config,
    `[models.tiny]\nhf_repo = "${REPO}"\ninclude = ["*.gguf", "*.md"]\n`,
  );
  assert.equal((await runEdgellm(["bootstrap"], { home: fx.home, config, env: fx.env })).code, 0);
  const device = await Deno.makeTempDir();
  try {
    const out = join(fx.home, "export", "bundle");
    const exported = await runEdgellm(["bundle", "export", "--out", out, "--json"], {
      home: fx.home,
      config,
      env: fx.env,
    });
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(JSON.parse(exported.stdout).files, 2);
    const manifest = JSON.parse(await Deno.readTextFile(join(out, "manifest.json")));
    assert.deepEqual(manifest.models[0].files.map((f: { path: string }) => f.path).sort(), [
      "README.md",
      GGUF,
    ]);
    assert.deepEqual(
      manifest.models[0].files.find((f: { path: string }) => f.path === GGUF),
      { path: GGUF, size: fx.content.length, sha256: fx.sha256, etag: fx.sha256 },
    );
    assert.equal(manifest.models[0].commit, fx.commit);

    // On the air-gapped device: another home, the same config, no hub; the folder is carried
    // into its home.
    const deviceConfig = join(device, "edgellm.toml");
    await Deno.copyFile(config, deviceConfig);
    const carried = join(device, "import", "bundle");
    await Deno.mkdir(join(device, "import"));
    await Deno.rename(out, carried);
    fx.hub.resetCounters();
    const imported = await runEdgellm(["bootstrap", "--from", carried, "--offline", "--json"], {
      home: device,
      config: deviceConfig,
      env: fx.env,
    });
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(JSON.parse(imported.stdout).bytes_imported, fx.content.length + 7);
    const again = await runEdgellm(["bootstrap", "--offline"], {
      home: device,
      config: deviceConfig,
      env: fx.env,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(fx.hub.counters.log.length, 0);
    assert.deepEqual(await listTree(repoDir(device)), await listTree(repoDir(fx.home)));
    const file = join(repoDir(device), "snapshots", fx.commit, GGUF);
    assert.equal(await sha256OfFile(file), fx.sha256);
  } finally {
    await Deno.remove(device, { recursive: true });
  }
});

Deno.test("bundle export writes a tar that tar extracts and bootstrap --from takes", async () => {
  await using fx = await bootstrapFixture();
  const longPath = `${"deep/".repeat(50)}${GGUF}`;
  const long = fakeBytes(1000, 9);
  fx.hub.commit("org/long", [{ path: longPath, content: long }]);
  const config = join(fx.home, "edgellm.toml");
  await Deno.writeTextFile(
    config,
    `[models.tiny]\nhf_repo = "${REPO}"\n\n[models.long]\nhf_repo = "org/long"\n`,
  );
  assert.equal((await runEdgellm(["bootstrap"], { home: fx.home, config, env: fx.env })).code, 0);
  const device = await Deno.makeTempDir();
  try {
    const exportDir = join(fx.home, "export");
    const tar = join(exportDir, "models.tar");
    const exported = await runEdgellm(["bundle", "export", "--out", tar], {
      home: fx.home,
      config,
      env: fx.env,
    });
    assert.equal(exported.code, 0, exported.stderr);
    assert.deepEqual(await listTree(exportDir), ["models.tar"], "no temp file left beside it");
    const listing = await new Deno.Command("tar", { args: ["-tf", tar], stdout: "piped" }).output();
    const names = new TextDecoder().decode(listing.stdout).trim().split("\n");
    assert.equal(names[0], "manifest.json", "the manifest comes first");
    assert.ok(names.some((name) => name.endsWith(longPath)), "a path over 255 bytes survives");

    // On the device, the operator extracts it into the home.
    const extracted = join(device, "import", "models");
    await Deno.mkdir(extracted, { recursive: true });
    const untar = await new Deno.Command("tar", { args: ["-xf", tar, "-C", extracted] }).output();
    assert.ok(untar.success);
    const deviceConfig = join(device, "edgellm.toml");
    await Deno.copyFile(config, deviceConfig);
    const imported = await runEdgellm(["bootstrap", "--from", extracted], {
      home: device,
      config: deviceConfig,
      env: fx.env,
    });
    assert.equal(imported.code, 0, imported.stderr);
    const commit = await Deno.readTextFile(join(repoDir(device, "org/long"), "refs", "main"));
    const file = join(repoDir(device, "org/long"), "snapshots", commit, longPath);
    assert.equal(await sha256OfFile(file), sha256Hex(long));
  } finally {
    await Deno.remove(device, { recursive: true });
  }
});

Deno.test("bundle export refuses, with exit 2 and the folders it may write, an --out outside them", async () => {
  await using fx = await bootstrapFixture();
  const config = join(fx.home, "edgellm.toml");
  await Deno.writeTextFile(config, `[models.tiny]\nhf_repo = "${REPO}"\n`);
  assert.equal((await runEdgellm(["bootstrap"], { home: fx.home, config, env: fx.env })).code, 0);
  const outside = await Deno.makeTempDir();
  try {
    const out = join(outside, "bundle");
    const result = await runEdgellm(["bundle", "export", "--out", out], {
      home: fx.home,
      config,
      env: fx.env,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `Cannot write '${out}': this edgellm may only write under ${fx.home}, /media, /mnt, ` +
        "/run/media and the paths it was built to allow; choose a path under one of them " +
        `(e.g. ${fx.home}/export/) or rebuild with \`compile.ts --allow-write <dir>\`\n`,
    );
    assert.deepEqual(await listTree(outside), []);

    // A build that allows the folder (`compile.ts --allow-write`) writes there.
    const allowed = await runEdgellm(["bundle", "export", "--out", out], {
      home: fx.home,
      config,
      env: fx.env,
      allowWrite: [outside],
    });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.ok(await exists(join(out, "manifest.json")));
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("bundle export exits 1 when a model is not bootstrapped", async () => {
  await using fx = await bootstrapFixture();
  const config = join(fx.home, "edgellm.toml");
  await Deno.writeTextFile(config, `[models.tiny]\nhf_repo = "${REPO}"\n`);
  const out = join(fx.home, "bundle");
  const result = await runEdgellm(["bundle", "export", "--out", out], {
    home: fx.home,
    config,
    env: fx.env,
  });
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /Cannot use model "tiny": .* is not in the store; run `edgellm bootstrap`/,
  );
  assert.equal(fx.hub.counters.log.length, 0, "export never touches the network");
});
