import assert from "node:assert/strict";
import OpenAI from "openai";
import { createLogger } from "../../../src/log/mod.ts";
import { type HttpServer, startHttpServer } from "../../../src/server/mod.ts";
import { type LlamaServer, startLlamaServer } from "../../_util/llama_server.ts";
import { ManualSupervisor, testConfig, tinyModel } from "./_util.ts";
import { waitFor } from "../../_util/wait_for.ts";

const TOKEN = "proxy-test-token";

interface Setup extends AsyncDisposable {
  url: URL;
  llama: LlamaServer;
  supervisor: ManualSupervisor;
  server: HttpServer;
}

interface SetupOptions {
  /** llama-server slots, also the runtime's `parallel`. */
  parallel?: number;
  /** Extra `[server]` lines. */
  server?: string;
}

/** A real llama-server on a tiny model behind the endpoint, listening on 127.0.0.1:0. */
async function setup(options: SetupOptions = {}): Promise<Setup> {
  const parallel = options.parallel ?? 2;
  const dir = await Deno.makeTempDir({ prefix: "edgellm-proxy-" });
  // Long enough a context that a generation can outlast the test's client.
  const model = await tinyModel(dir, 65536);
  const llama = await startLlamaServer(model, { ctxSize: 65536, parallel });
  const supervisor = new ManualSupervisor(testConfig(
    `[server]\n${options.server ?? ""}\n[models.tiny]\npath = "${model}"\n` +
      `[runtimes.chat]\nmodel = "tiny"\nparallel = ${parallel}\n`,
  ));
  supervisor.add("chat", "tiny", llama.url);
  const server = await startHttpServer(
    { supervisor, token: () => TOKEN, logger: createLogger({ write: () => {} }) },
    { hostname: "127.0.0.1", port: 0 },
  );
  return {
    url: new URL(`http://127.0.0.1:${server.addr.port}/`),
    llama,
    supervisor,
    server,
    async [Symbol.asyncDispose]() {
      await server.shutdown({ graceMs: 0 });
      await llama.close();
      await server.finished;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function client(url: URL): OpenAI {
  return new OpenAI({ baseURL: new URL("/v1", url).href, apiKey: TOKEN, maxRetries: 0 });
}

/** A sample of llama-server's own metrics. */
async function llamaMetric(llama: LlamaServer, name: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics", llama.url))).text();
  const line = text.split("\n").find((l) => l.startsWith(`llamacpp:${name} `));
  return Number(line?.split(" ")[1]);
}

function completion(body: Record<string, unknown>, signal?: AbortSignal): RequestInit {
  return {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  };
}

/** Reads SSE `data:` payloads from a response body until `until` holds or it ends. */
async function readData(
  reader: ReadableStreamDefaultReader<string>,
  until: (data: string[]) => boolean,
): Promise<string[]> {
  const data: string[] = [];
  let buffer = "";
  while (!until(data)) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const line = buffer.slice(0, end);
      if (line.startsWith("data: ")) data.push(line.slice(6));
      buffer = buffer.slice(end + 2);
    }
  }
  return data;
}

Deno.test("the proxy serves the openai client: chat and completions, streamed and not, and the model list", async () => {
  await using s = await setup();
  const openai = client(s.url);

  const models = await openai.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ["chat"]);

  const chat = await openai.chat.completions.create({
    model: "chat",
    messages: [{ role: "user", content: "Hello" }],
    max_tokens: 8,
  });
  assert.equal(chat.object, "chat.completion");
  assert.equal(chat.usage?.completion_tokens, 8);
  assert.equal(typeof chat.choices[0]?.message.content, "string");

  const stream = await openai.chat.completions.create({
    model: "tiny",
    messages: [{ role: "user", content: "Hello" }],
    max_tokens: 8,
    stream: true,
  });
  let streamed = "";
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    streamed += chunk.choices[0]?.delta.content ?? "";
  }
  assert.ok(chunks >= 8, `got ${chunks} chunks`);
  assert.equal(streamed.length > 0, true);

  const text = await openai.completions.create({ model: "chat", prompt: "Hi", max_tokens: 5 });
  assert.equal(text.usage?.completion_tokens, 5);

  const textStream = await openai.completions.create({
    model: "chat",
    prompt: "Hi",
    max_tokens: 5,
    stream: true,
  });
  let pieces = 0;
  for await (const chunk of textStream) if (chunk.choices[0]?.text) pieces++;
  assert.equal(pieces, 5);
});

Deno.test("the proxy stops the upstream generation when a streaming client leaves, and leaves another stream alone", async () => {
  await using s = await setup({ parallel: 2 });
  const leaving = new AbortController();
  const long = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "a", max_tokens: 30_000, stream: true }, leaving.signal),
  );
  const other = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "b", max_tokens: 1500, stream: true }),
  );
  const longReader = long.body!.pipeThrough(new TextDecoderStream()).getReader();
  const otherReader = other.body!.pipeThrough(new TextDecoderStream()).getReader();
  await readData(longReader, (d) => d.length >= 5);
  await readData(otherReader, (d) => d.length >= 5);
  assert.equal(await llamaMetric(s.llama, "requests_processing"), 2);

  leaving.abort();
  await longReader.cancel().catch(() => {});
  const rest = await readData(otherReader, () => false);
  assert.equal(rest.at(-1), "[DONE]");
  const tokens = rest.filter((d) => d !== "[DONE]").map((d) => JSON.parse(d).choices[0]?.text)
    .filter((t) => t);
  assert.ok(tokens.length > 1000, `the other stream got ${tokens.length} more tokens`);

  // The generation ended (no slot busy) ...
  await waitFor(
    "llama-server to stop generating",
    async () => await llamaMetric(s.llama, "requests_processing") === 0,
  );
  const slots = await (await fetch(new URL("/slots", s.llama.url))).json();
  assert.ok(slots.every((slot: { is_processing: boolean }) => !slot.is_processing));
  // ... and it was stopped, not run to its end: build 11669 adds a request's tokens to
  // tokens_predicted_total when it ends (a cancelled one with the tokens it got), so after
  // the wait this is the final count of both requests. The tiny model makes ~5000 tokens/s,
  // so a generation left to run would finish 30 000 within the wait and fail here. (/slots
  // shows n_decoded only while a slot is busy; it reads 0 once the request has ended.)
  assert.ok(await llamaMetric(s.llama, "tokens_predicted_total") < 30_000);
});

Deno.test("the proxy answers 429 with Retry-After when the queue is full, and drops waiters whose client left", async () => {
  await using s = await setup({ parallel: 1, server: "max_queue = 1" });
  const busy = new AbortController();
  const holder = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "a", max_tokens: 30_000, stream: true }, busy.signal),
  );
  const waiter = new AbortController();
  const waiting = fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "b", max_tokens: 4 }, waiter.signal),
  );
  const metrics = () =>
    fetch(new URL("/metrics", s.url), { headers: { authorization: `Bearer ${TOKEN}` } })
      .then((r) => r.text());
  await waitFor(
    "a request in the queue",
    async () => (await metrics()).includes('edgellm_queue_depth{runtime="chat"} 1'),
  );

  const refused = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "c", max_tokens: 4 }),
  );
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "1");
  const { error } = await refused.json();
  assert.equal(error.type, "rate_limit_error");
  assert.equal(error.code, "queue_full");

  waiter.abort();
  await assert.rejects(waiting);
  await waitFor(
    "the queue to empty",
    async () => (await metrics()).includes('edgellm_queue_depth{runtime="chat"} 0'),
  );
  const text = await metrics();
  assert.match(text, /edgellm_requests_rejected_total\{runtime="chat",reason="queue_full"\} 1/);
  busy.abort();
  await holder.body?.cancel().catch(() => {});

  // The slot is free again and nobody waits: the next request runs.
  const after = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "d", max_tokens: 4 }),
  );
  assert.equal(after.status, 200);
  assert.equal((await after.json()).usage.completion_tokens, 4);
});

Deno.test("the proxy answers 504 when request_timeout_s passes while the request waits for a slot", async () => {
  await using s = await setup({ parallel: 1 });
  const busy = new AbortController();
  const holder = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "a", max_tokens: 30_000, stream: true }, busy.signal),
  );
  // Only requests from now on get the short deadline: the holder keeps its slot.
  s.supervisor.reload(testConfig(
    `[server]\nrequest_timeout_s = 0.5\n[models.tiny]\npath = "/m.gguf"\n` +
      `[runtimes.chat]\nmodel = "tiny"\nparallel = 1\n`,
  ));
  const response = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "b", max_tokens: 4, stream: true }),
  );
  assert.equal(response.status, 504);
  const { error } = await response.json();
  assert.equal(error.code, "timeout");
  assert.equal(error.type, "server_error");
  assert.match(error.message, /deadline of 0.5 s \(request_timeout_s\)/);
  busy.abort();
  await holder.body?.cancel().catch(() => {});
});

Deno.test("the proxy answers 504 when request_timeout_s passes before llama-server answers", async () => {
  await using s = await setup({ server: "request_timeout_s = 0.5" });
  const response = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "a", max_tokens: 30_000 }),
  );
  assert.equal(response.status, 504);
  assert.equal((await response.json()).error.code, "timeout");
});

Deno.test("the proxy ends a stream that outlives request_timeout_s with an SSE error event and stops the generation", async () => {
  await using s = await setup({ server: "request_timeout_s = 1" });
  const response = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "a", max_tokens: 30_000, stream: true }),
  );
  assert.equal(response.status, 200);
  const data = await readData(
    response.body!.pipeThrough(new TextDecoderStream()).getReader(),
    () => false,
  );
  const last = JSON.parse(data.at(-1)!);
  assert.equal(last.error.code, 504);
  assert.match(last.error.message, /deadline of 1 s \(request_timeout_s\)/);
  assert.ok(!data.includes("[DONE]"));
  // Every event before the last is whole: the stream was cut between two events.
  for (const d of data.slice(0, -1)) assert.ok(JSON.parse(d).choices, d);
  await waitFor(
    "llama-server to stop generating",
    async () => await llamaMetric(s.llama, "requests_processing") === 0,
  );
  // Counted when the request ends: the generation stopped well short of its 30 000 tokens.
  assert.ok(await llamaMetric(s.llama, "tokens_predicted_total") < 30_000);
});

Deno.test("the openai client raises the deadline of a stream as an APIError", async () => {
  await using s = await setup({ server: "request_timeout_s = 1" });
  const stream = await client(s.url).completions.create({
    model: "chat",
    prompt: "a",
    max_tokens: 30_000,
    stream: true,
  });
  await assert.rejects(
    (async () => {
      for await (const _ of stream) { /* read to the end */ }
    })(),
    (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError, String(error));
      assert.match(error.message, /deadline of 1 s/);
      return true;
    },
  );
});

Deno.test("the proxy answers 504 when request_timeout_s passes while a JSON answer's body is read", async () => {
  // llama-server sends a JSON answer's headers only with its body, so a stand-in that
  // sends its headers and then stalls is the only way to reach this path.
  const cancelled = Promise.withResolvers<void>();
  const stall = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response(
        new ReadableStream({
          start: (controller) => controller.enqueue(new TextEncoder().encode('{"id":')),
          cancel: () => cancelled.resolve(),
        }),
        { headers: { "content-type": "application/json" } },
      ),
  );
  const supervisor = new ManualSupervisor(testConfig(
    `[server]\nrequest_timeout_s = 0.5\n[models.tiny]\npath = "/nonexistent.gguf"\n` +
      `[runtimes.slow]\nmodel = "tiny"\n`,
  ));
  supervisor.add("slow", "tiny", new URL(`http://127.0.0.1:${stall.addr.port}/`));
  const server = await startHttpServer(
    { supervisor, token: () => TOKEN, logger: createLogger({ write: () => {} }) },
    { hostname: "127.0.0.1", port: 0 },
  );
  try {
    const response = await fetch(
      `http://127.0.0.1:${server.addr.port}/v1/completions`,
      completion({ prompt: "a" }),
    );
    assert.equal(response.status, 504);
    assert.match((await response.json()).error.message, /deadline of 0.5 s/);
    await cancelled.promise;
  } finally {
    await server.shutdown({ graceMs: 0 });
    await server.finished;
    await stall.shutdown();
  }
});

Deno.test("the proxy applies a reload's max_queue and request_timeout_s to the next request", async () => {
  await using s = await setup({ parallel: 1, server: "max_queue = 0" });
  const busy = new AbortController();
  const holder = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "a", max_tokens: 30_000, stream: true }, busy.signal),
  );
  const refused = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "b", max_tokens: 4 }),
  );
  assert.equal(refused.status, 429);
  await refused.body?.cancel();

  s.supervisor.reload(testConfig(
    `[server]\nmax_queue = 1\nrequest_timeout_s = 0.5\n[models.tiny]\npath = "/m.gguf"\n` +
      `[runtimes.chat]\nmodel = "tiny"\nparallel = 1\n`,
  ));
  const waited = await fetch(
    new URL("/v1/completions", s.url),
    completion({ prompt: "c", max_tokens: 4 }),
  );
  assert.equal(waited.status, 504, "it waited in the queue, then passed the new deadline");
  await waited.body?.cancel();
  busy.abort();
  await holder.body?.cancel().catch(() => {});
});

Deno.test("the proxy gives a reloaded parallel to requests already waiting", async () => {
  await using s = await setup({ parallel: 1 });
  const streams: AbortController[] = [];
  const stream = async (model: string) => {
    const leave = new AbortController();
    streams.push(leave);
    const response = await fetch(
      new URL("/v1/completions", s.url),
      completion(
        { model, prompt: `s${streams.length}`, max_tokens: 30_000, stream: true },
        leave.signal,
      ),
    );
    assert.equal(response.status, 200);
    return response;
  };
  const depth = async (runtime: string) => {
    const text = await (await fetch(new URL("/metrics", s.url), {
      headers: { authorization: `Bearer ${TOKEN}` },
    })).text();
    return Number(
      text.match(new RegExp(`edgellm_queue_depth\\{runtime="${runtime}"\\} (\\d+)`))?.[1],
    );
  };
  const held = await stream("chat");
  const waiting = fetch(
    new URL("/v1/completions", s.url),
    completion({ model: "chat", prompt: "b", max_tokens: 4 }),
  );
  await waitFor("a request in the queue", async () => await depth("chat") === 1);

  // llama-server already has 2 slots; the reload gives edgellm's queue the second one.
  s.supervisor.reload(testConfig(
    `[models.tiny]\npath = "/m.gguf"\n[runtimes.chat]\nmodel = "tiny"\nparallel = 2\n`,
  ));
  // A changed parallel restarts the runtime; its ready event resizes the queue.
  s.supervisor.setState("chat", "ready", s.llama.url);
  await waitFor("the waiter to get the new slot", async () => await depth("chat") === 0);
  const admitted = await waiting;
  assert.equal(admitted.status, 200);
  assert.equal((await admitted.json()).usage.completion_tokens, 4);

  streams[0]!.abort();
  await held.body?.cancel().catch(() => {});
  await waitFor(
    "llama-server to stop the first generation",
    async () => await llamaMetric(s.llama, "requests_processing") === 0,
  );
});
