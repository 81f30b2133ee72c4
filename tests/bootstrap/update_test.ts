import assert from "node:assert/strict";
import { join } from "node:path";
import { parseConfig } from "../../src/config/mod.ts";
import { resolveModelFile } from "../../src/models/mod.ts";
import { exists } from "../../src/_util/exists.ts";
import {
  bootstrapFixture,
  fakeBytes,
  GGUF,
  REPO,
  repoDir,
  sha256Hex,
  sha256OfFile,
} from "../_util/bootstrap_fixture.ts";
import { runEdgellm } from "../_util/cli.ts";

const CONFIG = `[models.tiny]\nhf_repo = "${REPO}"\ninclude = ["*.gguf"]\n`;

Deno.test("bootstrap fetches a moved branch's new snapshot completely before moving the ref", async () => {
  await using fx = await bootstrapFixture();
  const configPath = join(fx.home, "edgellm.toml");
  await Deno.writeTextFile(configPath, CONFIG);
  const config = parseConfig(CONFIG, { env: {} });
  const run = () => runEdgellm(["bootstrap"], { home: fx.home, config: configPath, env: fx.env });
  assert.equal((await run()).code, 0);
  const oldPath = resolveModelFile("tiny", config, fx.home);
  assert.equal(oldPath, join(repoDir(fx.home), "snapshots", fx.commit, GGUF));

  // The branch moves: a new GGUF (split in two) replaces the old one.
  const parts = [fakeBytes(150_000, 7), fakeBytes(150_000, 8)];
  const newCommit = fx.hub.commit(REPO, [
    { path: "tiny-Q4_K_M-00001-of-00002.gguf", content: parts[0] as Uint8Array },
    { path: "tiny-Q4_K_M-00002-of-00002.gguf", content: parts[1] as Uint8Array },
  ]);

  // The update fails half-way (the first part arrives, the second keeps failing): the old
  // snapshot and ref stay untouched and in use.
  fx.hub.faults.failNext = { status: 503, count: 1000, routes: ["cdn"], after: 1 };
  const failed = await run();
  assert.equal(failed.code, 75, failed.stderr);
  const ref = join(repoDir(fx.home), "refs", "main");
  assert.equal(await Deno.readTextFile(ref), fx.commit);
  assert.equal(resolveModelFile("tiny", config, fx.home), oldPath);
  assert.equal(await sha256OfFile(oldPath), fx.sha256);
  assert.equal(await exists(join(repoDir(fx.home), "snapshots", newCommit)), false);

  // The hub recovers: the new snapshot is completed, then the ref moves.
  fx.hub.faults.failNext = undefined;
  const before = fx.hub.counters.bodyBytes;
  const ok = await run();
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(
    fx.hub.counters.bodyBytes - before,
    150_000,
    "the finished part is not fetched again",
  );
  assert.equal(await Deno.readTextFile(ref), newCommit);
  const newPath = resolveModelFile("tiny", config, fx.home);
  assert.equal(
    newPath,
    join(repoDir(fx.home), "snapshots", newCommit, "tiny-Q4_K_M-00001-of-00002.gguf"),
  );
  assert.equal(await sha256OfFile(newPath), sha256Hex(parts[0] as Uint8Array));
  // The old snapshot stays (as huggingface_hub keeps it).
  assert.equal(await sha256OfFile(oldPath), fx.sha256);
});
