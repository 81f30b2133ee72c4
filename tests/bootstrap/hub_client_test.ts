import assert from "node:assert/strict";
import { HubClient } from "../../bootstrap/hub_client.ts";
import { HubError } from "../../bootstrap/retry.ts";
import { fakeBytes, FakeHub, sha256Hex } from "../_util/fake_hub.ts";

const NO_RETRY = { maxAttempts: 1 };

async function read(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("HubClient resolves revisions and lists files with sizes, blob names and sha256", async () => {
  await using hub = FakeHub.start({ treePageSize: 2 });
  const gguf = fakeBytes(5000);
  const commit = hub.commit("org/m", [
    { path: "a/b/model.gguf", content: gguf },
    { path: "config.json", content: new TextEncoder().encode("{}") },
    { path: "a/c.txt", content: new TextEncoder().encode("c") },
  ]);
  hub.tag("org/m", "v1", commit);
  const client = new HubClient({ endpoint: hub.url, retry: NO_RETRY });
  assert.equal(await client.resolveRevision("org/m", "main"), commit);
  assert.equal(await client.resolveRevision("org/m", "v1"), commit);
  assert.equal(await client.resolveRevision("org/m", commit), commit);
  const files = await client.listFiles("org/m", commit);
  assert.ok(hub.counters.requests.tree > 1, "followed the Link pagination");
  assert.deepEqual(files.find((f) => f.path === "a/b/model.gguf"), {
    path: "a/b/model.gguf",
    size: 5000,
    etag: sha256Hex(gguf),
    sha256: sha256Hex(gguf),
  });
  const small = files.find((f) => f.path === "config.json");
  assert.equal(small?.sha256, null);
  assert.match(small?.etag ?? "", /^[0-9a-f]{40}$/);
  assert.equal(files.length, 3);
});

Deno.test("HubClient follows the CDN redirect without the token and resumes with If-Range", async () => {
  await using hub = FakeHub.start();
  const gguf = fakeBytes(10_000);
  const commit = hub.commit("org/m", [{ path: "m.gguf", content: gguf }], { gated: true });
  const client = new HubClient({ endpoint: hub.url, token: hub.token, retry: NO_RETRY });
  const whole = await client.openFile("org/m", { commit, path: "m.gguf" });
  assert.equal(whole.status, 200);
  assert.deepEqual(await read(whole.body), gguf);
  assert.ok(whole.validator);

  const part = await client.openFile("org/m", { commit, path: "m.gguf" }, {
    offset: 4000,
    validator: whole.validator,
  });
  assert.equal(part.status, 206);
  assert.equal(part.offset, 4000);
  assert.deepEqual(await read(part.body), gguf.subarray(4000));

  hub.changeEtag(sha256Hex(gguf));
  const changed = await client.openFile("org/m", { commit, path: "m.gguf" }, {
    offset: 4000,
    validator: whole.validator,
  });
  assert.equal(changed.status, 200, "a changed ETag gives the whole file");
  assert.equal(changed.offset, 0);
  await changed.body.cancel();

  assert.equal(hub.counters.cdnAuthorization, 0);
  assert.ok(hub.counters.log.filter((r) => r.route === "resolve").every((r) => r.authorization));
});

Deno.test("HubClient maps hub errors to permanent or temporary HubErrors", async () => {
  await using hub = FakeHub.start();
  const commit = hub.commit("org/m", [{ path: "m.gguf", content: fakeBytes(10) }], {
    gated: true,
  });
  const client = new HubClient({ endpoint: hub.url, retry: NO_RETRY, tokenEnv: "MY_TOKEN" });
  const gated = await client.resolveRevision("org/m", "main").catch((e) => e);
  assert.ok(gated instanceof HubError);
  assert.equal(gated.status, 401);
  assert.equal(gated.code, "GatedRepo");
  assert.equal(gated.exitCode, 1);
  assert.match(gated.message, /set MY_TOKEN/);

  const authed = new HubClient({ endpoint: hub.url, token: hub.token, retry: NO_RETRY });
  const missing = await authed.openFile("org/m", { commit, path: "nope.gguf" }).catch((e) => e);
  assert.equal(missing.code, "EntryNotFound");
  assert.equal(missing.temporary, false);

  hub.faults.failNext = { status: 429, count: 1, retryAfter: "7" };
  const busy = await authed.resolveRevision("org/m", "main").catch((e) => e);
  assert.equal(busy.temporary, true);
  assert.equal(busy.retryAfterMs, 7000);
  assert.equal(busy.exitCode, 75);

  const closed = new HubClient({ endpoint: "http://127.0.0.1:9", retry: NO_RETRY });
  const unreachable = await closed.resolveRevision("org/m", "main").catch((e) => e);
  assert.equal(unreachable.temporary, true);
  assert.match(unreachable.message, /Cannot reach 127\.0\.0\.1:9/);
});

Deno.test("HubClient turns an unexpected answer into a clear HubError, not a crash", async () => {
  const bodies = [`{"sha": 42}`, `<html>captive portal</html>`, `[{"type": "file", "path": 1}]`];
  let next = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(bodies[next++], { headers: { "content-type": "application/json" } }),
  );
  try {
    const client = new HubClient({ endpoint: `http://127.0.0.1:${server.addr.port}` });
    const shape = await client.resolveRevision("org/m", "main").catch((e) => e);
    assert.ok(shape instanceof HubError);
    assert.match(shape.message, /unexpected shape \(sha: .*\)/);
    assert.equal(shape.exitCode, 1);
    const html = await client.resolveRevision("org/m", "main").catch((e) => e);
    assert.match(html.message, /not JSON/);
    const tree = await client.listFiles("org/m", "a".repeat(40)).catch((e) => e);
    assert.match(tree.message, /unexpected shape/);
  } finally {
    await server.shutdown();
  }
});
