/**
 * What the HTTP endpoint adds to llama-server, in one run: `edgellm serve` supervises a
 * llama-server on a generated tiny model, and the same requests go to that llama-server
 * directly (the baseline), through edgellm, and through nginx (Debian's package, as a
 * reverse proxy: a reference point for "a good proxy").
 *
 * - short completions (8 tokens, not streamed), the three targets in turn, 300 rounds after a
 *   warm-up: median and p99 latency;
 * - one long streamed completion (4000 tokens), 5 rounds: tokens per second, median.
 *
 * A tiny model generates thousands of tokens per second, so the proxy's share of each
 * request is as large as it can be; with a real model the ratios move towards 1.
 *
 * `deno run -A bench/http_bench.ts` prints one JSON line per metric (see `bench/run.ts`).
 *
 * @module
 */
import { join } from "node:path";
import { freePort } from "../src/supervisor/probe.ts";
import { spawnEdgellm } from "../tests/_util/cli.ts";
import { writeTinyModel } from "../tests/_util/tiny_model.ts";
import { waitFor } from "../tests/_util/wait_for.ts";

const SHORT_ROUNDS = 300;
const WARM_UP_ROUNDS = 20;
const SHORT_TOKENS = 8;
const LONG_ROUNDS = 5;
const LONG_TOKENS = 4000;
const TOKEN = "bench-token";
const NGINX = "/usr/sbin/nginx";

interface Target {
  name: "llama-server" | "edgellm" | "nginx";
  base: string;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function round(value: number, digits = 3): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}

function post(target: Target, body: unknown): Promise<Response> {
  return fetch(`${target.base}/v1/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function shortCompletionMs(target: Target): Promise<number> {
  const start = performance.now();
  const response = await post(target, { prompt: "Hello", max_tokens: SHORT_TOKENS });
  const { usage } = await response.json();
  if (usage?.completion_tokens !== SHORT_TOKENS) {
    throw new Error(`Cannot measure ${target.name}: it answered ${response.status}`);
  }
  return performance.now() - start;
}

async function streamTokensPerSecond(target: Target): Promise<number> {
  const start = performance.now();
  const response = await post(target, { prompt: "Hello", max_tokens: LONG_TOKENS, stream: true });
  let tail = "";
  for await (const text of response.body!.pipeThrough(new TextDecoderStream())) {
    tail = (tail + text).slice(-2048);
  }
  const seconds = (performance.now() - start) / 1000;
  // The tiny model always generates exactly the tokens asked for; the last event says so.
  if (!tail.includes(`"predicted_n":${LONG_TOKENS}`) || !tail.includes("data: [DONE]")) {
    throw new Error(`Cannot measure ${target.name}: the stream did not end as expected`);
  }
  return LONG_TOKENS / seconds;
}

/** nginx in the foreground with its own prefix, proxying to `upstreamPort` with keep-alive. */
async function startNginx(dir: string, upstreamPort: number): Promise<[Deno.ChildProcess, Target]> {
  const port = freePort();
  const prefix = join(dir, "nginx");
  await Deno.mkdir(prefix);
  const conf = join(prefix, "nginx.conf");
  await Deno.writeTextFile(
    conf,
    `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream llama { server 127.0.0.1:${upstreamPort}; keepalive 8; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://llama;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`,
  );
  const child = new Deno.Command(NGINX, {
    args: ["-p", prefix, "-c", conf, "-e", join(prefix, "error.log")],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const target: Target = { name: "nginx", base: `http://127.0.0.1:${port}` };
  await waitFor("nginx to listen", async () => {
    try {
      const response = await fetch(`${target.base}/health`);
      await response.body?.cancel();
      return response.ok;
    } catch (error) {
      // fetch rejects with a TypeError while nothing listens yet.
      if (error instanceof TypeError) return false;
      throw error;
    }
  });
  return [child, target];
}

/** `edgellm serve` on a free port with one runtime; resolves once it is ready. */
async function startEdgellm(dir: string): Promise<[Deno.ChildProcess, Target, Target]> {
  const home = join(dir, "home");
  await Deno.mkdir(home);
  const model = join(dir, "tiny.gguf");
  await writeTinyModel(model, { contextLength: 8192 });
  // In the home: a binary may read a --config only there or at the default paths.
  const config = join(home, "edgellm.toml");
  const port = freePort();
  await Deno.writeTextFile(
    config,
    `[server]\nport = ${port}\n[models.tiny]\npath = "${model}"\n` +
      `[runtimes.chat]\nmodel = "tiny"\nthreads = 1\nctx_size = 8192\nparallel = 1\n`,
  );
  const child = await spawnEdgellm(["serve"], { home, config, env: { EDGELLM_TOKEN: TOKEN } });
  child.stdout.cancel();
  // The pipe breaks when the bench kills edgellm at the end; nothing is lost then.
  child.stderr.pipeTo(Deno.stderr.writable, { preventClose: true }).catch(() => {});
  const edgellm: Target = { name: "edgellm", base: `http://127.0.0.1:${port}` };
  await waitFor("edgellm to be ready", async () => {
    try {
      const response = await fetch(`${edgellm.base}/ready`);
      await response.body?.cancel();
      return response.ok;
    } catch (error) {
      // fetch rejects with a TypeError while nothing listens yet.
      if (error instanceof TypeError) return false;
      throw error;
    }
  }, { timeoutMs: 60_000 });
  const runtime = await (await fetch(`${edgellm.base}/runtimes/chat`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  })).json();
  return [child, edgellm, { name: "llama-server", base: `http://127.0.0.1:${runtime.port}` }];
}

function report(metric: string, value: number, baseline: number, unit: string): void {
  console.log(JSON.stringify({
    bench: "http",
    metric,
    value: round(value),
    baseline: round(baseline),
    ratio: round(value / baseline, 2),
    unit,
  }));
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgellm-bench-http-" });
  let serve: Deno.ChildProcess | undefined;
  let nginx: Deno.ChildProcess | undefined;
  try {
    const [serveChild, edgellm, direct] = await startEdgellm(dir);
    serve = serveChild;
    const [nginxChild, proxied] = await startNginx(dir, Number(new URL(direct.base).port));
    nginx = nginxChild;
    const targets = [direct, edgellm, proxied];

    const short = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < WARM_UP_ROUNDS + SHORT_ROUNDS; round++) {
      for (const target of targets) {
        const ms = await shortCompletionMs(target);
        if (round >= WARM_UP_ROUNDS) short.get(target.name)!.push(ms);
      }
    }
    const long = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < LONG_ROUNDS; round++) {
      for (const target of targets) {
        long.get(target.name)!.push(await streamTokensPerSecond(target));
      }
    }

    const base = short.get("llama-server")!;
    for (const name of ["edgellm", "nginx"]) {
      const times = short.get(name)!;
      report(`short completion p50, ${name}`, quantile(times, 0.5), quantile(base, 0.5), "ms");
      report(`short completion p99, ${name}`, quantile(times, 0.99), quantile(base, 0.99), "ms");
    }
    for (const name of ["edgellm", "nginx"]) {
      report(
        `long stream, ${name}`,
        quantile(long.get(name)!, 0.5),
        quantile(long.get("llama-server")!, 0.5),
        "tokens/s",
      );
    }
  } finally {
    nginx?.kill("SIGTERM");
    await nginx?.status;
    serve?.kill("SIGTERM");
    await serve?.status;
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
