import assert from "node:assert/strict";
import { createLogger } from "../../../src/log/mod.ts";
import { createApp, type ServerDeps } from "../../../src/server/mod.ts";
import { waitFor } from "../../_util/wait_for.ts";
import { ManualSupervisor, testConfig } from "./_util.ts";

const TOKEN = "test-token-123";
const AUTH = { authorization: `Bearer ${TOKEN}` };

function setup(toml = "", deps: Partial<ServerDeps> = {}) {
  const supervisor = new ManualSupervisor(testConfig(toml));
  const app = createApp({
    supervisor,
    token: () => TOKEN,
    logger: createLogger({ write: () => {} }),
    ...deps,
  });
  return { app, supervisor };
}

Deno.test("createApp() answers /health without a token", async () => {
  const { app } = setup();
  const response = await app.request("/health");
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.status, "ok");
  assert.equal(typeof body.version, "string");
  assert.equal(typeof body.uptime_s, "number");
});

Deno.test("createApp() answers 401 with the JSON envelope when the token is missing or wrong", async () => {
  const { app } = setup();
  for (const headers of [{}, { authorization: "Bearer nope" }, { authorization: "Basic abc" }]) {
    const response = await app.request("/runtimes", { headers });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="edgellm"');
    const body = await response.json();
    assert.equal(body.error.code, "unauthorized");
    assert.match(body.error.message, /^Cannot authorize the request/);
  }
  assert.equal((await app.request("/runtimes", { headers: AUTH })).status, 200);
});

Deno.test("createApp() answers 401 in OpenAI's shape under /v1/", async () => {
  const { app } = setup();
  const response = await app.request("/v1/models");
  assert.equal(response.status, 401);
  const { error } = await response.json();
  assert.equal(error.type, "authentication_error");
  assert.equal(error.code, "unauthorized");
  assert.equal(error.param, null);
});

Deno.test("createApp() serves everything without a token when none is configured", async () => {
  const { app } = setup("", { token: () => undefined });
  assert.equal((await app.request("/runtimes")).status, 200);
});

Deno.test("createApp() requires the token on /metrics unless metrics_public", async () => {
  assert.equal((await setup().app.request("/metrics")).status, 401);
  const { app } = setup("[server]\nmetrics_public = true\n");
  const response = await app.request("/metrics");
  assert.equal(response.status, 200);
  await response.body?.cancel();
});

Deno.test("createApp() answers 404 for an unknown path and an unknown runtime", async () => {
  const { app, supervisor } = setup();
  supervisor.add("chat", "tiny");
  const path = await app.request("/nowhere", { headers: AUTH });
  assert.equal(path.status, 404);
  assert.equal((await path.json()).error.code, "not_found");
  const runtime = await app.request("/runtimes/other", { headers: AUTH });
  assert.equal(runtime.status, 404);
  assert.match(
    (await runtime.json()).error.message,
    /Cannot find runtime "other": it is not in the configuration/,
  );
});

Deno.test("createApp() answers /ready 503 until every auto_start runtime is ready", async () => {
  const { app, supervisor } = setup();
  supervisor.add("chat", "tiny");
  supervisor.add("manual", "tiny", undefined, false);
  let response = await app.request("/ready");
  assert.equal(response.status, 503);
  assert.deepEqual((await response.json()).runtimes.chat.state, "stopped");
  supervisor.setState("chat", "ready", new URL("http://127.0.0.1:1/"));
  response = await app.request("/ready");
  assert.equal(response.status, 200);
  assert.equal((await response.json()).status, "ready");
});

Deno.test("createApp() lists runtimes in OpenAI's model list", async () => {
  const { app, supervisor } = setup();
  supervisor.add("chat", "tiny");
  const response = await app.request("/v1/models", { headers: AUTH });
  const body = await response.json();
  assert.equal(body.object, "list");
  assert.equal(body.data.length, 1);
  assert.equal(body.data[0].id, "chat");
  assert.equal(body.data[0].object, "model");
  assert.equal(body.data[0].owned_by, "edgellm");
});

function post(body: string, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    body,
    headers: { ...AUTH, "content-type": "application/json", ...headers },
  };
}

Deno.test("createApp() answers 400 saying what is wrong with an inference body", async () => {
  const { app, supervisor } = setup();
  supervisor.add("chat", "tiny", new URL("http://127.0.0.1:1/"));
  const cases: [string, string, RegExp][] = [
    ["/v1/chat/completions", "{not json", /^Cannot parse the request body as JSON/],
    ["/v1/chat/completions", "[]", /body: /],
    ["/v1/chat/completions", '{"messages":[]}', /messages: /],
    ["/v1/chat/completions", '{"model":7,"messages":[{"role":"user","content":"hi"}]}', /model: /],
    ["/v1/completions", '{"prompt":"x","stream":"yes"}', /stream: /],
    ["/v1/embeddings", '{"model":"chat"}', /input: /],
  ];
  for (const [path, body, message] of cases) {
    const response = await app.request(path, post(body));
    assert.equal(response.status, 400, `${path} ${body}`);
    const { error } = await response.json();
    assert.equal(error.type, "invalid_request_error");
    assert.equal(error.code, "bad_request");
    assert.match(error.message, message);
  }
});

Deno.test("createApp() answers 400 when several runtimes run and the body names no model", async () => {
  const { app, supervisor } = setup();
  supervisor.add("a", "tiny");
  supervisor.add("b", "tiny");
  const response = await app.request("/v1/completions", post('{"prompt":"x"}'));
  assert.equal(response.status, 400);
  assert.match(
    (await response.json()).error.message,
    /names no "model".*set "model" to one of "a", "b"/,
  );
});

Deno.test("createApp() answers 404 model_not_found for an unknown model", async () => {
  const { app, supervisor } = setup();
  supervisor.add("chat", "tiny");
  const response = await app.request(
    "/v1/completions",
    post('{"model":"gpt-9","prompt":"x"}'),
  );
  assert.equal(response.status, 404);
  const { error } = await response.json();
  assert.equal(error.code, "model_not_found");
  assert.match(error.message, /"gpt-9"/);
});

Deno.test("createApp() answers 503 with Retry-After when the runtime is not ready", async () => {
  const { app, supervisor } = setup();
  supervisor.add("chat", "tiny");
  supervisor.setState("chat", "starting");
  const response = await app.request(
    "/v1/completions",
    post('{"model":"tiny","prompt":"x"}'),
  );
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "5");
  assert.equal((await response.json()).error.code, "runtime_not_ready");
});

Deno.test("createApp() answers 413 for a body over max_body_bytes, with or without a length", async () => {
  const { app, supervisor } = setup("[server]\nmax_body_bytes = 100\n");
  supervisor.add("chat", "tiny", new URL("http://127.0.0.1:1/"));
  const big = JSON.stringify({ prompt: "x".repeat(200) });
  const sized = await app.request("/v1/completions", post(big));
  assert.equal(sized.status, 413);
  assert.equal((await sized.json()).error.code, "payload_too_large");
  const chunked = await app.request("/v1/completions", {
    method: "POST",
    headers: AUTH,
    body: ReadableStream.from([new TextEncoder().encode(big)]),
  });
  assert.equal(chunked.status, 413);
  await chunked.body?.cancel();
});

Deno.test("createApp() starts, stops and restarts a runtime on POST", async () => {
  const { app, supervisor } = setup();
  supervisor.add("chat", "tiny");
  for (const action of ["start", "stop", "restart"]) {
    const response = await app.request(`/runtimes/chat/${action}`, {
      method: "POST",
      headers: AUTH,
    });
    assert.equal(response.status, 200);
    assert.equal((await response.json()).id, "chat");
  }
  assert.deepEqual(supervisor.calls, ["start chat", "stop chat", "restart chat"]);
  const unknown = await app.request("/runtimes/x/start", { method: "POST", headers: AUTH });
  assert.equal(unknown.status, 404);
  assert.match((await unknown.json()).error.message, /Cannot find runtime "x"/);
});

Deno.test("createApp() answers the runtime matrix", async () => {
  const { app, supervisor } = setup();
  supervisor.add("chat", "tiny");
  const { runtimes } = await (await app.request("/runtimes", { headers: AUTH })).json();
  assert.equal(runtimes.length, 1);
  assert.equal(runtimes[0].id, "chat");
  assert.equal(runtimes[0].state, "stopped");
  const one = await (await app.request("/runtimes/chat", { headers: AUTH })).json();
  assert.equal(one.model, "tiny");
});

/** Reads SSE events from a response until `count` arrived. */
async function readEvents(response: Response, count: number): Promise<unknown[]> {
  const events: unknown[] = [];
  let buffer = "";
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  while (events.length < count) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const data = buffer.slice(0, end).split("\n").find((l) => l.startsWith("data: "));
      if (data) events.push(JSON.parse(data.slice(6)));
      buffer = buffer.slice(end + 2);
    }
  }
  await reader.cancel();
  return events;
}

Deno.test("createApp() /events streams state changes in order and ends with the app's signal", async () => {
  const shutdown = new AbortController();
  const { app, supervisor } = setup("", { signal: shutdown.signal });
  supervisor.add("chat", "tiny");
  // The proxy's own subscription (it resizes queues on state changes) lasts until shutdown.
  const others = supervisor.subscribers;
  const response = await app.request("/events", { headers: AUTH });
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const url = new URL("http://127.0.0.1:1/");
  supervisor.setState("chat", "starting");
  supervisor.setState("chat", "ready", url);
  supervisor.setState("chat", "backoff");
  const events = await readEvents(response, 3) as { from: string; to: string }[];
  assert.deepEqual(events.map((e) => `${e.from}>${e.to}`), [
    "stopped>starting",
    "starting>ready",
    "ready>backoff",
  ]);
  assert.equal(
    supervisor.subscribers,
    others,
    "the first stream unsubscribed when read to its end",
  );

  const second = await app.request("/events", { headers: AUTH });
  shutdown.abort();
  assert.equal(await second.text(), "");
  assert.equal(supervisor.subscribers, 0, "the shutdown ended every subscription");
});

Deno.test("createApp() answers log tails and follows new lines as SSE", async () => {
  const { app, supervisor } = setup();
  supervisor.add("chat", "tiny");
  supervisor.log("chat", "one");
  supervisor.log("chat", "two");
  const tail = await (await app.request("/runtimes/chat/logs?tail=1", { headers: AUTH })).json();
  assert.deepEqual(tail.lines.map((l: { line: string }) => l.line), ["two"]);
  const bad = await app.request("/runtimes/chat/logs?tail=-1", { headers: AUTH });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();

  const controller = new AbortController();
  const follow = await app.request("/runtimes/chat/logs?tail=1&follow=1", {
    headers: AUTH,
    signal: controller.signal,
  });
  // Logged before the stream is first read: the follower is registered with the request.
  supervisor.log("chat", "three");
  const lines = await readEvents(follow, 2) as { line: string }[];
  assert.deepEqual(lines.map((l) => l.line), ["two", "three"]);
  controller.abort();
  await waitFor("the follower to leave", () => supervisor.followers === 0);
});

Deno.test("createApp() submits, shows and cancels jobs", async () => {
  const { app } = setup();
  const submitted = await app.request("/jobs", {
    method: "POST",
    headers: AUTH,
    body: JSON.stringify({ kind: "inference", model: "tiny", prompt: "hi" }),
  });
  assert.equal(submitted.status, 201);
  const job = await submitted.json();
  assert.equal(submitted.headers.get("location"), `/jobs/${job.id}`);
  assert.equal(job.state, "queued");
  assert.equal((await (await app.request(`/jobs/${job.id}`, { headers: AUTH })).json()).id, job.id);
  const cancelled = await app.request(`/jobs/${job.id}`, { method: "DELETE", headers: AUTH });
  assert.equal((await cancelled.json()).state, "cancelled");
  for (const init of [{ headers: AUTH }, { method: "DELETE", headers: AUTH }]) {
    const missing = await app.request("/jobs/nope", init);
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error.message, /Cannot find job "nope"/);
  }
});

Deno.test("createApp() answers 400 naming what is wrong with a job", async () => {
  const { app } = setup();
  for (
    const [body, message] of [
      ["{", /^Cannot parse the request body as JSON/],
      ['{"kind":"inference","prompt":"x"}', /model: /],
    ] as const
  ) {
    const response = await app.request("/jobs", { method: "POST", headers: AUTH, body });
    assert.equal(response.status, 400);
    const { error } = await response.json();
    assert.equal(error.code, "bad_request");
    assert.match(error.message, message);
  }
});

Deno.test("createApp() applies a reloaded configuration from the next request: body limit, token, public metrics", async () => {
  const tokens: Record<string, string> = { EDGELLM_TOKEN: TOKEN, OTHER_TOKEN: "other-token" };
  const { app, supervisor } = setup("[server]\nmax_body_bytes = 100\n", {
    token: (server) => tokens[server.token_env],
  });
  supervisor.add("chat", "tiny");
  const body = JSON.stringify({ prompt: "x".repeat(150) });
  const send = (headers: Record<string, string>) =>
    app.request("/v1/completions", {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
    });
  assert.equal((await send(AUTH)).status, 413);
  assert.equal((await app.request("/metrics")).status, 401);

  supervisor.reload(testConfig(
    '[server]\nmax_body_bytes = 1000\nmetrics_public = true\ntoken_env = "OTHER_TOKEN"\n',
  ));
  assert.equal((await send(AUTH)).status, 401, "the old token no longer opens");
  // Past the body limit and the token: the runtime is not ready.
  assert.equal((await send({ authorization: "Bearer other-token" })).status, 503);
  assert.equal((await app.request("/metrics")).status, 200);
});

Deno.test("createApp() warns that a reloaded host or port needs a restart", async () => {
  const lines: string[] = [];
  const { app, supervisor } = setup("", { logger: createLogger({ write: (l) => lines.push(l) }) });
  supervisor.reload(testConfig("[server]\nport = 9999\n"));
  assert.equal((await app.request("/health")).status, 200);
  const warnings = lines.filter((l) => l.includes("server.port changed"));
  assert.equal(warnings.length, 1, lines.join("\n"));
  assert.match(warnings[0]!, /applies only when edgellm serve restarts/);
  assert.match(warnings[0]!, /9999/);
});
