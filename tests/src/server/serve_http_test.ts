/**
 * The HTTP endpoint as users get it: `edgellm serve` (the real CLI under the product's
 * permission flags) supervising a real llama-server on a generated tiny model, reached over
 * real HTTP on 127.0.0.1. `withTestHome` proves that no process is left after each test.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { runEdgellm } from "../../_util/cli.ts";
import { configText, withTestHome } from "../../_util/supervisor.ts";
import { writeTinyModel } from "../../_util/tiny_model.ts";
import { waitFor } from "../../_util/wait_for.ts";
import { startServe } from "./_util.ts";

const TOKEN = "e2e-token";
const ENV = { EDGELLM_TOKEN: TOKEN };
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** A runtime quick to start and check, on two slots of a context long enough to stream long. */
const RUNTIME = `[runtimes.chat]
model = "tiny"
threads = 1
ctx_size = 65536
parallel = 2
health = { interval_ms = 200, timeout_ms = 1000, failures_before_restart = 2, startup_timeout_s = 30 }
restart = { max_restarts = 3, window_s = 60, backoff_initial_ms = 1000, backoff_max_ms = 2000 }
`;

/** Writes a model beside the home and the config into the home, where serve may read it. */
async function writeConfig(dir: string, home: string): Promise<string> {
  const model = `${dir}/long.gguf`;
  await writeTinyModel(model, { contextLength: 65536 });
  const path = `${home}/edgellm.toml`;
  await Deno.writeTextFile(path, configText(model, RUNTIME));
  return path;
}

async function waitReady(url: string): Promise<void> {
  await waitFor("the runtime to be ready", async () => {
    const response = await fetch(`${url}/ready`);
    await response.body?.cancel();
    return response.status === 200;
  }, { timeoutMs: 30_000 });
}

async function json(url: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
  const response = await fetch(url, { ...init, headers: { ...AUTH, ...init.headers } });
  return await response.json();
}

/** A metric of the runtime's own llama-server, read from it directly. */
async function llamaMetric(serveUrl: string, name: string): Promise<number> {
  const runtime = await json(`${serveUrl}/runtimes/chat`);
  const text = await (await fetch(`http://127.0.0.1:${runtime.port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`llamacpp:${name} `));
  return Number(line?.split(" ")[1]);
}

/** SSE `data:` payloads as they arrive. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const text of body.pipeThrough(new TextDecoderStream())) {
    buffer += text;
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const data = buffer.slice(0, end).split("\n").find((l) => l.startsWith("data: "));
      buffer = buffer.slice(end + 2);
      if (data !== undefined) yield data.slice(6);
    }
  }
}

Deno.test("edgellm serve answers the openai client: chat and completions, streamed and not, and the model list", async () => {
  await withTestHome(async ({ dir, home }) => {
    const serve = await startServe(home, await writeConfig(dir, home), { env: ENV });
    try {
      await waitReady(serve.url);
      const openai = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
      assert.deepEqual((await openai.models.list()).data.map((m) => m.id), ["chat"]);

      const chat = await openai.chat.completions.create({
        model: "chat",
        messages: [{ role: "user", content: "Hello" }],
        max_tokens: 6,
      });
      assert.equal(chat.usage?.completion_tokens, 6);
      assert.equal(typeof chat.choices[0]?.message.content, "string");

      let streamed = 0;
      const chatStream = await openai.chat.completions.create({
        model: "tiny",
        messages: [{ role: "user", content: "Hello" }],
        max_tokens: 6,
        stream: true,
      });
      for await (const chunk of chatStream) if (chunk.choices[0]?.delta.content) streamed++;
      assert.equal(streamed, 6);

      const text = await openai.completions.create({ model: "chat", prompt: "Hi", max_tokens: 4 });
      assert.equal(text.usage?.completion_tokens, 4);
      let pieces = 0;
      const textStream = await openai.completions.create({
        model: "chat",
        prompt: "Hi",
        max_tokens: 4,
        stream: true,
      });
      for await (const chunk of textStream) if (chunk.choices[0]?.text) pieces++;
      assert.equal(pieces, 4);

      const refused = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: "wrong", maxRetries: 0 });
      await assert.rejects(refused.models.list(), OpenAI.AuthenticationError);
      assert.equal((await fetch(`${serve.url}/health`).then((r) => r.json())).status, "ok");
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});

Deno.test("edgellm serve stops llama-server's generation when a streaming client leaves, and another stream goes on", async () => {
  await withTestHome(async ({ dir, home }) => {
    const serve = await startServe(home, await writeConfig(dir, home), { env: ENV });
    try {
      await waitReady(serve.url);
      const leaving = new AbortController();
      const request = (maxTokens: number, signal?: AbortSignal) =>
        fetch(`${serve.url}/v1/completions`, {
          method: "POST",
          headers: { ...AUTH, "content-type": "application/json" },
          body: JSON.stringify({ prompt: "a", max_tokens: maxTokens, stream: true }),
          ...(signal ? { signal } : {}),
        });
      const long = sseData((await request(30_000, leaving.signal)).body!);
      const other = sseData((await request(1500)).body!);
      for (let i = 0; i < 5; i++) await long.next();
      for (let i = 0; i < 5; i++) await other.next();
      assert.equal(await llamaMetric(serve.url, "requests_processing"), 2);

      leaving.abort();
      await long.return(undefined).catch(() => {});
      const rest: string[] = [];
      for await (const data of other) rest.push(data);
      assert.equal(rest.at(-1), "[DONE]");
      const tokens = rest.filter((d) => d !== "[DONE]" && JSON.parse(d).choices[0]?.text);
      assert.ok(tokens.length > 1000, `the other stream got ${tokens.length} more tokens`);

      // The generation ended, and was stopped rather than run to its end: llama-server adds a
      // request's tokens when it ends (a cancelled one with what it got), and this model makes
      // ~5000 tokens/s, so 30 000 left to run would finish within the wait and fail here.
      await waitFor(
        "llama-server to stop generating",
        async () => await llamaMetric(serve.url, "requests_processing") === 0,
      );
      assert.ok(await llamaMetric(serve.url, "tokens_predicted_total") < 30_000);
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});

Deno.test("edgellm serve: /ready goes 503, 200, 503, 200 as the runtime starts, is killed and restarts, and /events tells each change in order", async () => {
  await withTestHome(async ({ dir, home }) => {
    const serve = await startServe(home, await writeConfig(dir, home), { env: ENV });
    try {
      await waitReady(serve.url);
      await json(`${serve.url}/runtimes/chat/stop`, { method: "POST" });
      const statuses: number[] = [];
      const ready = async () => {
        const response = await fetch(`${serve.url}/ready`);
        await response.body?.cancel();
        statuses.push(response.status);
      };
      await ready();

      const events = await fetch(`${serve.url}/events`, { headers: AUTH });
      assert.equal(events.headers.get("content-type"), "text/event-stream");
      const seen: { from: string; to: string }[] = [];
      const stream = sseData(events.body!);
      const until = async (to: string) => {
        // next() rather than for-await, which would close the stream on return.
        while (seen.at(-1)?.to !== to) {
          const { done, value } = await stream.next();
          if (done) throw new Error(`/events ended before "${to}"`);
          seen.push(JSON.parse(value));
        }
      };

      await json(`${serve.url}/runtimes/chat/start`, { method: "POST" });
      await until("ready");
      await ready();
      const { pid } = await json(`${serve.url}/runtimes/chat`);
      Deno.kill(pid as number, "SIGKILL");
      await until("backoff");
      // The restart waits backoff_initial_ms (1 s): long enough to ask.
      await ready();
      await until("ready");
      await ready();
      await stream.return(undefined);

      assert.deepEqual(statuses, [503, 200, 503, 200]);
      assert.deepEqual(seen.map((e) => `${e.from}>${e.to}`), [
        "stopped>starting",
        "starting>ready",
        "ready>backoff",
        "backoff>starting",
        "starting>ready",
      ]);
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});

Deno.test("edgellm serve /metrics includes llama-server's own metrics with a runtime label", async () => {
  await withTestHome(async ({ dir, home }) => {
    const serve = await startServe(home, await writeConfig(dir, home), { env: ENV });
    try {
      await waitReady(serve.url);
      const body = JSON.stringify({ prompt: "a", max_tokens: 3 });
      const headers = { ...AUTH, "content-type": "application/json" };
      await (await fetch(`${serve.url}/v1/completions`, { method: "POST", headers, body })).json();
      const text = await (await fetch(`${serve.url}/metrics`, { headers: AUTH })).text();
      assert.match(text, /^edgellm_llamacpp_tokens_predicted_total\{runtime="chat"\} 3$/m);
      assert.match(text, /^edgellm_tokens_generated_total\{runtime="chat"\} 3$/m);
      assert.match(text, /^edgellm_runtime_state\{runtime="chat",state="ready"\} 1$/m);
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});

Deno.test("edgellm serve runs a job submitted over HTTP", async () => {
  await withTestHome(async ({ dir, home }) => {
    const serve = await startServe(home, await writeConfig(dir, home), { env: ENV });
    try {
      const submitted = await fetch(`${serve.url}/jobs`, {
        method: "POST",
        headers: { ...AUTH, "content-type": "application/json" },
        body: JSON.stringify({ kind: "inference", model: "tiny", prompt: "Hi", n_predict: 4 }),
      });
      assert.equal(submitted.status, 201);
      const { id } = await submitted.json();
      let job: Record<string, unknown> = {};
      await waitFor("the job to end", async () => {
        job = await json(`${serve.url}/jobs/${id}`);
        return job.ended_at !== null;
      }, { timeoutMs: 30_000 });
      assert.equal(job.state, "succeeded", JSON.stringify(job));
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});

Deno.test("edgellm serve ends an open /events stream and exits 0 on SIGTERM", async () => {
  await withTestHome(async ({ dir, home }) => {
    const serve = await startServe(home, await writeConfig(dir, home), { env: ENV });
    const events = await fetch(`${serve.url}/events`, { headers: AUTH });
    const body = events.text();
    assert.equal(await serve.stop("SIGTERM"), 0);
    await body;
  });
});

Deno.test("edgellm serve refuses a non-loopback host without a token (exit 2) and serves it with --insecure", async () => {
  await withTestHome(async ({ dir, home }) => {
    const config = await writeConfig(dir, home);
    const refused = await runEdgellm(["serve", "--host", "0.0.0.0", "--port", "0"], {
      home,
      config,
    });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /Cannot serve on "0.0.0.0" without a token/);
    assert.match(refused.stderr, /EDGELLM_TOKEN/);

    const serve = await startServe(home, config, { args: ["--host", "0.0.0.0", "--insecure"] });
    try {
      const port = new URL(serve.url.replace("0.0.0.0", "127.0.0.1")).port;
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      assert.match(serve.log(), /serving without a token/);
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});

Deno.test("edgellm serve applies a SIGHUP-reloaded max_body_bytes to the HTTP endpoint", async () => {
  await withTestHome(async ({ dir, home }) => {
    const path = await writeConfig(dir, home);
    const serve = await startServe(home, path, { env: ENV });
    try {
      const send = () =>
        fetch(`${serve.url}/v1/completions`, {
          method: "POST",
          headers: { ...AUTH, "content-type": "application/json" },
          body: JSON.stringify({ prompt: "x".repeat(300), max_tokens: 1 }),
        });
      const before = await send();
      await before.body?.cancel();
      assert.notEqual(before.status, 413);

      await Deno.writeTextFile(
        path,
        `[server]\nmax_body_bytes = 200\n` + await Deno.readTextFile(path),
      );
      serve.child.kill("SIGHUP");
      await waitFor("the reload", () => serve.log().includes('"msg":"configuration reloaded"'));
      const after = await send();
      assert.equal(after.status, 413);
      assert.match((await after.json()).error.message, /larger than 200 bytes \(max_body_bytes\)/);
    } finally {
      assert.equal(await serve.stop(), 0);
    }
  });
});
