import assert from "node:assert/strict";
import { UsageError } from "../../../src/errors.ts";
import { createLogger } from "../../../src/log/mod.ts";
import { assertSafeBind, isLoopbackHost, startHttpServer } from "../../../src/server/mod.ts";
import { ManualSupervisor } from "./_util.ts";

Deno.test("isLoopbackHost() knows the loopback names", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "LOCALHOST"]) {
    assert.ok(isLoopbackHost(host), host);
  }
  for (const host of ["0.0.0.0", "::", "[::]", "192.168.1.2", "example.com", "128.0.0.1"]) {
    assert.ok(!isLoopbackHost(host), host);
  }
});

Deno.test("assertSafeBind() refuses a non-loopback host without a token unless insecure", () => {
  assert.throws(
    () => assertSafeBind("0.0.0.0", undefined, { tokenEnv: "EDGELLM_TOKEN" }),
    (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /Cannot serve on "0.0.0.0" without a token/);
      assert.match(error.message, /EDGELLM_TOKEN/);
      assert.match(error.message, /--insecure/);
      return true;
    },
  );
  assertSafeBind("0.0.0.0", "token");
  assertSafeBind("0.0.0.0", undefined, { insecure: true });
  assertSafeBind("127.0.0.1", undefined);
});

Deno.test("HttpServer.shutdown() ends open event streams and returns promptly", async () => {
  const supervisor = new ManualSupervisor();
  supervisor.add("chat", "tiny");
  const server = await startHttpServer({
    supervisor,
    token: () => undefined,
    logger: createLogger({ write: () => {} }),
  }, { hostname: "127.0.0.1", port: 0 });
  const events = await fetch(`http://127.0.0.1:${server.addr.port}/events`);
  assert.equal(events.status, 200);
  const body = events.text();
  await server.shutdown();
  await server.finished;
  assert.equal(await body, "");
  assert.equal(supervisor.subscribers, 0);
});
