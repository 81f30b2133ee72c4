import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../../src/_util/exists.ts";
import {
  bootstrapFixture,
  GGUF,
  listTree,
  REPO,
  repoDir,
  sha256OfFile,
} from "../_util/bootstrap_fixture.ts";
import { fakeBytes } from "../_util/fake_hub.ts";
import { runEdgellm } from "../_util/cli.ts";

const ADHOC = ["bootstrap", "--hf-repo", REPO, "--include", "*.gguf", "--include", "*.md"];

Deno.test("bootstrap puts verified files in the HF layout and a rerun downloads nothing", async () => {
  await using fx = await bootstrapFixture();
  const first = await runEdgellm([...ADHOC, "--json"], { home: fx.home, env: fx.env });
  assert.equal(first.code, 0, first.stderr);
  const summary = JSON.parse(first.stdout);
  assert.equal(summary.files, 2);
  assert.equal(summary.bytes_downloaded, fx.content.length + 7);
  assert.equal(summary.models[0].commit, fx.commit);

  const dir = repoDir(fx.home);
  assert.deepEqual(
    await listTree(dir),
    [
      "blobs",
      `blobs/${fx.sha256}`,
      // README.md is a small (git, not LFS) file: its blob is named by its git blob id.
      "blobs/8e2e871357bef652084a73f7173adc5eb8859a33",
      "refs",
      "refs/main",
      "snapshots",
      `snapshots/${fx.commit}`,
      `snapshots/${fx.commit}/README.md`,
      `snapshots/${fx.commit}/${GGUF}`,
    ].sort(),
  );
  assert.equal(await Deno.readTextFile(join(dir, "refs", "main")), fx.commit);
  const link = join(dir, "snapshots", fx.commit, GGUF);
  assert.equal(await Deno.readLink(link), `../../blobs/${fx.sha256}`);
  assert.equal(await sha256OfFile(link), fx.sha256);
  assert.equal(fx.hub.counters.cdnAuthorization, 0);

  // A branch: one metadata request, nothing else.
  fx.hub.resetCounters();
  const second = await runEdgellm([...ADHOC, "--json"], { home: fx.home, env: fx.env });
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(fx.hub.counters.requests, {
    revision: 1,
    tree: 0,
    resolve: 0,
    cdn: 0,
    other: 0,
  });
  assert.equal(fx.hub.counters.bodyBytes, 0);
  assert.equal(JSON.parse(second.stdout).bytes_downloaded, 0);
  assert.equal(JSON.parse(second.stdout).bytes_reused, fx.content.length + 7);

  // A commit sha: no request at all.
  fx.hub.resetCounters();
  const pinned = await runEdgellm([...ADHOC, "--revision", fx.commit], {
    home: fx.home,
    env: fx.env,
  });
  assert.equal(pinned.code, 0, pinned.stderr);
  assert.equal(fx.hub.counters.log.length, 0);

  // Offline: no request either.
  const offline = await runEdgellm([...ADHOC, "--offline"], { home: fx.home, env: fx.env });
  assert.equal(offline.code, 0, offline.stderr);
  const hfOffline = await runEdgellm(ADHOC, {
    home: fx.home,
    env: { ...fx.env, HF_HUB_OFFLINE: "1" },
  });
  assert.equal(hfOffline.code, 0, hfOffline.stderr);
  assert.equal(fx.hub.counters.log.length, 0);
});

Deno.test("bootstrap fetches the configured models and checks path models exist", async () => {
  await using fx = await bootstrapFixture();
  const local = join(fx.home, "local.gguf");
  await Deno.writeFile(local, fakeBytes(100));
  const config = join(fx.home, "edgellm.toml");
  await Deno.writeTextFile(
    config,
    `[models.tiny]\nhf_repo = "${REPO}"\ninclude = ["*Q4_K_M.gguf"]\n\n` +
      `[models.local]\npath = "${local}"\n`,
  );
  const ok = await runEdgellm(["bootstrap", "--json"], { home: fx.home, config, env: fx.env });
  assert.equal(ok.code, 0, ok.stderr);
  const summary = JSON.parse(ok.stdout);
  assert.deepEqual(summary.models.map((m: { id: string }) => m.id), ["tiny", "local"]);
  assert.equal(summary.models[0].files, 1);

  await Deno.remove(local);
  const missing = await runEdgellm(["bootstrap"], { home: fx.home, config, env: fx.env });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /local\.gguf' does not exist/);
});

Deno.test("bootstrap --offline fails with exit 1 when the model is not in the store", async () => {
  await using fx = await bootstrapFixture();
  const result = await runEdgellm([...ADHOC, "--offline"], { home: fx.home, env: fx.env });
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /org\/tiny@main is not in the store; run `edgellm bootstrap` with network/,
  );
  assert.equal(fx.hub.counters.log.length, 0);
});

Deno.test("bootstrap --dry-run prints the plan and downloads nothing", async () => {
  await using fx = await bootstrapFixture();
  const result = await runEdgellm([...ADHOC, "--dry-run", "--json"], {
    home: fx.home,
    env: fx.env,
  });
  assert.equal(result.code, 0, result.stderr);
  const [model] = JSON.parse(result.stdout).models;
  assert.equal(model.commit, fx.commit);
  assert.equal(model.bytes_to_fetch, fx.content.length + 7);
  assert.deepEqual(
    model.files.map((f: { path: string; status: string }) => [f.path, f.status]),
    [[GGUF, "missing"], ["README.md", "missing"]],
  );
  assert.equal(fx.hub.counters.bodyBytes, 0);
  assert.equal(await exists(join(repoDir(fx.home), "snapshots")), false);
});

Deno.test("bootstrap sends the token to the hub but never to the CDN", async () => {
  await using fx = await bootstrapFixture({ gated: true });
  const denied = await runEdgellm(ADHOC, { home: fx.home, env: fx.env });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /401 \(GatedRepo\)/);
  assert.match(denied.stderr, /set HF_TOKEN/);

  const allowed = await runEdgellm(ADHOC, {
    home: fx.home,
    env: { ...fx.env, HF_TOKEN: fx.hub.token },
  });
  assert.equal(allowed.code, 0, allowed.stderr);
  const hubRequests = fx.hub.counters.log.filter((r) => r.route !== "cdn" && r.status === 200);
  assert.ok(hubRequests.length > 0 && hubRequests.every((r) => r.authorization));
  assert.ok(fx.hub.counters.requests.cdn > 0);
  assert.equal(fx.hub.counters.cdnAuthorization, 0);
});

Deno.test("bootstrap exits 1 naming the problem for an unknown repo or revision", async () => {
  await using fx = await bootstrapFixture();
  const repo = await runEdgellm(["bootstrap", "--hf-repo", "org/nope"], {
    home: fx.home,
    env: fx.env,
  });
  assert.equal(repo.code, 1);
  assert.match(repo.stderr, /RepoNotFound/);
  const revision = await runEdgellm([...ADHOC, "--revision", "v9"], {
    home: fx.home,
    env: fx.env,
  });
  assert.equal(revision.code, 1);
  assert.match(revision.stderr, /RevisionNotFound.*Invalid rev id: v9/);
  const include = await runEdgellm(["bootstrap", "--hf-repo", REPO, "--include", "*.bin"], {
    home: fx.home,
    env: fx.env,
  });
  assert.equal(include.code, 1);
  assert.match(include.stderr, /no file of org\/tiny@[0-9a-f]{40} matches include \["\*\.bin"\]/);
});

Deno.test("bootstrap refuses repo paths that would escape the store", async () => {
  await using fx = await bootstrapFixture();
  for (const path of ["../escape.gguf", "a/../../escape.gguf", "a\\..\\escape.gguf"]) {
    fx.hub.commit("org/evil", [{ path, content: fakeBytes(10) }]);
    const result = await runEdgellm(["bootstrap", "--hf-repo", "org/evil"], {
      home: fx.home,
      env: fx.env,
    });
    assert.equal(result.code, 1, path);
    assert.match(result.stderr, /Cannot use the repo path/);
  }
  assert.equal(fx.hub.counters.requests.resolve, 0);
  assert.deepEqual(
    await listTree(fx.home),
    ["state", "state/bootstrap.json", "state/bootstrap.lock", "hub"].sort(),
  );
});

Deno.test("bootstrap reads an unset or bad --wait, --revision without --hf-repo as usage errors", async () => {
  await using fx = await bootstrapFixture();
  const wait = await runEdgellm([...ADHOC, "--wait", "soon"], { home: fx.home, env: fx.env });
  assert.equal(wait.code, 2);
  const revision = await runEdgellm(["bootstrap", "--revision", "main"], {
    home: fx.home,
    env: fx.env,
  });
  assert.equal(revision.code, 2);
  assert.match(revision.stderr, /without --hf-repo/);
});
