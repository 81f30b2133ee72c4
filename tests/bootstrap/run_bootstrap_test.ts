import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type BootstrapOptions,
  DiskSpaceError,
  HubError,
  type ModelSpec,
  runBootstrap,
} from "../../bootstrap/mod.ts";
import { createLogger } from "../../src/log/mod.ts";
import {
  bootstrapFixture,
  fakeBytes,
  GGUF,
  readState,
  REPO,
  repoDir,
} from "../_util/bootstrap_fixture.ts";

const SPECS: ModelSpec[] = [{
  kind: "hub",
  id: "tiny",
  repo: REPO,
  revision: "main",
  include: [GGUF],
}];

function options(home: string, endpoint: string): BootstrapOptions {
  const logger = createLogger({ format: "json", level: "error", write: () => {} });
  return {
    home,
    hub: { endpoint },
    logger,
    progress: { start() {}, advance() {}, finish() {} },
    retry: { maxAttempts: 1 },
  };
}

Deno.test("runBootstrap refuses to start a file the disk cannot hold and keeps the partial", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.cutAfterBytes = 100_000;
  await assert.rejects(runBootstrap(SPECS, options(fx.home, fx.hub.url)), HubError);
  const partial = join(repoDir(fx.home), "blobs", `${fx.sha256}.incomplete`);
  const have = (await Deno.stat(partial)).size;
  assert.ok(have > 0);

  const asked: string[] = [];
  const error = await runBootstrap(SPECS, {
    ...options(fx.home, fx.hub.url),
    freeBytes: (dir) => {
      asked.push(dir);
      return Promise.resolve(1000);
    },
  }).catch((e) => e);
  assert.ok(error instanceof DiskSpaceError, String(error));
  assert.equal(error.exitCode, 1);
  assert.equal(error.needed, fx.content.length - have, "only what it still needs");
  assert.match(error.message, /Cannot download 'org\/tiny\/tiny-Q4_K_M\.gguf': it needs .* more/);
  assert.deepEqual(asked, [join(repoDir(fx.home), "blobs")]);
  assert.equal((await Deno.stat(partial)).size, have, "nothing lost");
  assert.equal(Object.values((await readState(fx.home))?.downloads ?? {})[0]?.bytes_done, have);
});

Deno.test("runBootstrap reports received bytes through onBytes", async () => {
  await using fx = await bootstrapFixture();
  let counted = 0;
  const summary = await runBootstrap(SPECS, {
    ...options(fx.home, fx.hub.url),
    onBytes: (bytes) => counted += bytes,
  });
  assert.equal(counted, fx.content.length);
  assert.equal(summary.bytes_downloaded, fx.content.length);
  assert.equal(summary.models[0]?.commit, fx.commit);
});

Deno.test("runBootstrap moves a corrupt state file aside and still completes", async () => {
  await using fx = await bootstrapFixture();
  await Deno.mkdir(join(fx.home, "state"));
  await Deno.writeTextFile(join(fx.home, "state", "bootstrap.json"), "{truncated");
  const summary = await runBootstrap(SPECS, options(fx.home, fx.hub.url));
  assert.equal(summary.files, 1);
  const names = (await Array.fromAsync(Deno.readDir(join(fx.home, "state")))).map((e) => e.name);
  assert.ok(names.some((name) => name.startsWith("bootstrap.json.corrupt-")), names.join());
});

Deno.test("runBootstrap aborts a stalled transfer and resumes it", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.stallAfterBytes = 100_000;
  const summary = await runBootstrap(SPECS, {
    ...options(fx.home, fx.hub.url),
    retry: { maxAttempts: 2, initialDelayMs: 1 },
    idleTimeoutMs: 200,
  });
  assert.equal(summary.bytes_downloaded, fx.content.length);
  const cdn = fx.hub.counters.log.filter((r) => r.route === "cdn");
  assert.deepEqual(cdn.map((r) => r.range), [null, "bytes=100000-"]);
});

Deno.test("runBootstrap fetches content shared by two paths once", async () => {
  await using fx = await bootstrapFixture();
  const same = fakeBytes(50_000, 11);
  fx.hub.commit("org/twins", [{ path: "a.gguf", content: same }, {
    path: "b/a.gguf",
    content: same,
  }]);
  const summary = await runBootstrap(
    [{ kind: "hub", id: "twins", repo: "org/twins", revision: "main", include: ["*.gguf"] }],
    options(fx.home, fx.hub.url),
  );
  assert.equal(summary.files, 2);
  assert.equal(summary.bytes_downloaded, same.length);
  assert.equal(fx.hub.counters.bodyBytes, same.length);
});
