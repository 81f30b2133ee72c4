import assert from "node:assert/strict";
import { probeLlamaServer } from "../../../src/supervisor/probe.ts";

/** A server that sends the headers of `/health` and then never the body. */
function stallingServer() {
  const answered = Promise.withResolvers<void>();
  const bodies: ReadableStreamDefaultController<Uint8Array>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    answered.resolve();
    return new Response(new ReadableStream({ start: (c) => void bodies.push(c) }));
  });
  return {
    port: server.addr.port,
    answered: answered.promise,
    async [Symbol.asyncDispose]() {
      for (const body of bodies) body.close();
      await server.shutdown();
    },
  };
}

Deno.test("probeLlamaServer ends when its signal aborts after the headers arrived", async () => {
  await using server = stallingServer();
  const run = new AbortController();
  const probe = probeLlamaServer(server.port, "health", { timeoutMs: 60_000, signal: run.signal });
  await server.answered;
  run.abort();
  const result = await probe;
  assert.equal(result.ok, false);
});

Deno.test("probeLlamaServer times out a body that never comes", async () => {
  await using server = stallingServer();
  const result = await probeLlamaServer(server.port, "health", { timeoutMs: 200 });
  assert.deepEqual(result, { ok: false, reason: "no answer within 200 ms" });
});
