import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../../src/_util/exists.ts";
import {
  bootstrapFixture,
  GGUF,
  readState,
  REPO,
  repoDir,
  sha256OfFile,
} from "../_util/bootstrap_fixture.ts";
import { runEdgellm, spawnEdgellm } from "../_util/cli.ts";
import { waitFor } from "../_util/wait_for.ts";

const ARGS = ["bootstrap", "--hf-repo", REPO, "--include", GGUF];

function finalPath(home: string, commit: string): string {
  return join(repoDir(home), "snapshots", commit, GGUF);
}

Deno.test("bootstrap resumes with Range after the connection is cut mid-body", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.cutAfterBytes = 100_000;
  const result = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /download interrupted; retrying/);
  const cdn = fx.hub.counters.log.filter((r) => r.route === "cdn");
  assert.equal(cdn.length, 2);
  assert.equal(cdn[0]?.range, null);
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(cdn[1]?.range ?? "")?.[1]);
  assert.ok(resumedAt > 0 && resumedAt <= 100_000, `resumed at ${resumedAt}`);
  assert.ok(cdn[1]?.ifRange, "If-Range carries the ETag");
  assert.equal(cdn[1]?.status, 206);
  // Only what was lost in transit is fetched twice.
  assert.equal(fx.hub.counters.bodyBytes, fx.content.length + (100_000 - resumedAt));
  assert.equal(await sha256OfFile(finalPath(fx.home, fx.commit)), fx.sha256);
});

Deno.test("bootstrap retries 500s and succeeds", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.failNext = { status: 500, count: 2, routes: ["revision", "cdn"] };
  const result = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    fx.hub.counters.log.map((r) => `${r.route} ${r.status}`),
    ["revision 500", "revision 500", "revision 200", "tree 200", "resolve 302", "cdn 200"],
  );
  assert.equal(await sha256OfFile(finalPath(fx.home, fx.commit)), fx.sha256);
});

Deno.test("bootstrap exits 75 when 5xx persist, with no file at a final path", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.failNext = { status: 503, count: 1000, routes: ["cdn"] };
  const result = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(result.code, 75, result.stderr);
  assert.match(result.stderr, /answered 503.*retry later/);
  assert.equal(fx.hub.counters.requests.cdn, 5, "bounded: five attempts");
  assert.equal(await exists(join(repoDir(fx.home), "blobs", fx.sha256)), false);
  assert.equal(await exists(join(repoDir(fx.home), "snapshots")), false);
  assert.equal(await exists(join(repoDir(fx.home), "refs")), false);
});

Deno.test("bootstrap honours Retry-After on 429", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.failNext = { status: 429, count: 1, retryAfter: "1", routes: ["cdn"] };
  const result = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(result.code, 0, result.stderr);
  const cdn = fx.hub.counters.log.filter((r) => r.route === "cdn");
  assert.deepEqual(cdn.map((r) => r.status), [429, 200]);
  const waited = (cdn[1]?.at ?? 0) - (cdn[0]?.at ?? 0);
  assert.ok(waited >= 950, `waited ${waited} ms after Retry-After: 1`);
});

Deno.test("bootstrap exits 75 at once when Retry-After is longer than it waits", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.failNext = { status: 429, count: 1000, retryAfter: "3600" };
  const result = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(result.code, 75);
  assert.match(result.stderr, /429.*retry later/);
  assert.equal(fx.hub.counters.log.length, 1);
});

Deno.test("bootstrap restarts a file from zero when its ETag changed between runs", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.throttleBytesPerSec = 100_000;
  const child = await spawnEdgellm(ARGS, { home: fx.home, env: fx.env });
  const key = `models--org--tiny/blobs/${fx.sha256}`;
  await waitFor(
    "a checkpoint",
    async () => ((await readState(fx.home))?.downloads[key]?.bytes_done ?? 0) > 0,
  );
  child.kill("SIGKILL");
  await child.output();
  const partial = (await Deno.stat(join(repoDir(fx.home), "blobs", `${fx.sha256}.incomplete`)))
    .size;
  assert.ok(partial > 0 && partial < fx.content.length);

  fx.hub.changeEtag(fx.sha256);
  fx.hub.faults.throttleBytesPerSec = 0;
  fx.hub.resetCounters();
  const result = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(result.code, 0, result.stderr);
  const [cdn] = fx.hub.counters.log.filter((r) => r.route === "cdn");
  assert.equal(cdn?.range, `bytes=${partial}-`);
  assert.ok(cdn?.ifRange);
  assert.equal(cdn?.status, 200, "If-Range failed: the whole file came");
  assert.match(result.stderr, /did not resume where asked; restarting the file/);
  assert.equal(fx.hub.counters.bodyBytes, fx.content.length);
  assert.equal(await sha256OfFile(finalPath(fx.home, fx.commit)), fx.sha256);
});

Deno.test("bootstrap deletes wrong bytes and downloads once more from zero", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.wrongBodies = 1;
  const result = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, /do not match; deleted them/);
  assert.equal(fx.hub.counters.bodyBytes, 2 * fx.content.length);
  assert.equal(await sha256OfFile(finalPath(fx.home, fx.commit)), fx.sha256);
});

Deno.test("bootstrap exits 1 naming the file and both hashes when wrong bytes persist", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.wrongBodies = 2;
  const result = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(result.code, 1);
  const match = new RegExp(
    `Cannot verify 'org/tiny/${GGUF}': sha256 expected ${fx.sha256}, got ([0-9a-f]{64})`,
  ).exec(result.stderr);
  assert.ok(match, result.stderr);
  assert.notEqual(match[1], fx.sha256);
  const blobs = join(repoDir(fx.home), "blobs");
  assert.deepEqual(await Array.fromAsync(Deno.readDir(blobs)), [], "nothing kept");
  assert.equal(await exists(join(repoDir(fx.home), "snapshots")), false);
});

Deno.test("bootstrap --clean discards partial downloads and state, then starts over", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.cutAfterBytes = 100_000;
  fx.hub.faults.failNext = { status: 503, count: 1000, routes: ["cdn"], after: 1 };
  const failed = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(failed.code, 75);
  const partial = join(repoDir(fx.home), "blobs", `${fx.sha256}.incomplete`);
  assert.ok((await Deno.stat(partial)).size > 0);
  assert.equal(Object.keys((await readState(fx.home))?.downloads ?? {}).length, 1);

  fx.hub.faults.failNext = undefined;
  fx.hub.resetCounters();
  const clean = await runEdgellm([...ARGS, "--clean"], { home: fx.home, env: fx.env });
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stderr, /discarded partial downloads and state.*"partials":1/);
  const [cdn] = fx.hub.counters.log.filter((r) => r.route === "cdn");
  assert.equal(cdn?.range, null, "started from zero");
  assert.equal(await sha256OfFile(finalPath(fx.home, fx.commit)), fx.sha256);
});
