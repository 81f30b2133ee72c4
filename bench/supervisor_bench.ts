/**
 * The supervisor's cost, measured against the same work without it, in the same run:
 *
 * - spawn to ready: `Supervisor.start()` until the `ready` event (free port, spawn through the
 *   sandboxed Worker and setpriv, `/health` probes), against spawning the same llama-server
 *   command line directly and polling its `/health` every 5 ms. Alternating, median of each.
 * - RSS while supervising: the resident memory of `edgellm serve` (under the product's
 *   permission flags) with one ready runtime, against an idle `deno run` of an empty script.
 *
 * A generated tiny model keeps llama-server's own load time small, so the ratios show what the
 * supervisor adds. `deno run -A bench/supervisor_bench.ts` prints one JSON line per metric
 * (see `bench/run.ts`).
 *
 * @module
 */
import { checkoutFlags } from "../src/permissions/mod.ts";
import { createSupervisor } from "../src/supervisor/mod.ts";
import { llamaServerArgs } from "../src/supervisor/engine_args.ts";
import { freePort } from "../src/supervisor/probe.ts";
import { bundledTool } from "../tests/_util/natives.ts";
import { EventRecorder, FAST_RUNTIME, testConfig, testOptions } from "../tests/_util/supervisor.ts";
import { writeTinyModel } from "../tests/_util/tiny_model.ts";

/** Runs of each side; the first of each is a warm-up and is not counted. */
const RUNS = 8;

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** The arguments the supervisor gives the runtime below (`FAST_RUNTIME`), on `port`. */
function serverArgs(model: string, port: number): string[] {
  return [
    ...llamaServerArgs({ modelPath: model, threads: 1, ctxSize: 256, parallel: 1 }),
    ...["--host", "127.0.0.1", "--port", String(port)],
  ];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function round(value: number, digits = 1): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}

/** llama-server started alone: spawn to the first `/health` 200. */
async function aloneMs(model: string): Promise<number> {
  const tool = await bundledTool("llama-server");
  const port = freePort();
  const start = performance.now();
  const child = new Deno.Command(tool.command, {
    args: [...tool.args, ...serverArgs(model, port)],
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`);
        await response.body?.cancel();
        if (response.ok) return performance.now() - start;
      } catch (error) {
        // fetch rejects with a TypeError while nothing listens yet.
        if (!(error instanceof TypeError)) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

/** Resident memory of a process, from /proc (the bench runs with -A). */
function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
  return kib / 1024;
}

/** Reads stderr until a line contains `needle`, then keeps draining it. */
async function waitForLine(stream: ReadableStream<Uint8Array>, needle: string): Promise<void> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes(needle)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Cannot measure: serve ended before logging "${needle}":\n${seen}`);
    seen += value;
  }
  (async () => {
    while (!(await reader.read()).done);
  })();
}

async function rssWhileSupervising(dir: string, model: string): Promise<[number, number]> {
  const home = `${dir}/serve-home`;
  // In the home: a binary may read a --config only there or at the default paths.
  const config = `${home}/edgellm.toml`;
  await Deno.mkdir(home);
  await Deno.writeTextFile(
    config,
    `[models.tiny]\npath = "${model}"\n[runtimes.chat]\nmodel = "tiny"\n${FAST_RUNTIME}`,
  );
  const serve = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...await checkoutFlags({ home, config }),
      MAIN,
      "--home",
      home,
      "--config",
      config,
      "serve",
      "--port",
      "0",
    ],
    clearEnv: true,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const empty = `${dir}/idle.ts`;
  await Deno.writeTextFile(empty, "setTimeout(() => {}, 600_000);\n");
  const idle = new Deno.Command(Deno.execPath(), {
    args: ["run", empty],
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitForLine(serve.stderr, '"runtime ready"');
    // Let both settle after start-up (JIT, first GC) before sampling.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const samples = { serve: [] as number[], idle: [] as number[] };
    for (let n = 0; n < 5; n++) {
      samples.serve.push(rssMiB(serve.pid));
      samples.idle.push(rssMiB(idle.pid));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return [median(samples.serve), median(samples.idle)];
  } finally {
    serve.kill("SIGTERM");
    idle.kill("SIGTERM");
    await Promise.all([serve.status, idle.status]);
  }
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgellm-bench-supervisor-" });
  try {
    const model = `${dir}/tiny.gguf`;
    await writeTinyModel(model);
    const config = testConfig(
      model,
      `[runtimes.chat]\nmodel = "tiny"\nauto_start = false\n${FAST_RUNTIME}`,
    );
    const supervisor = await createSupervisor(config, testOptions(`${dir}/home`));
    const events = new EventRecorder(supervisor);
    const times = { product: [] as number[], baseline: [] as number[] };
    try {
      for (let run = 0; run < RUNS; run++) {
        const from = events.events.length;
        const start = performance.now();
        await supervisor.start("chat");
        await events.next("chat", "ready", { from });
        const supervised = performance.now() - start;
        await supervisor.stop("chat");
        const alone = await aloneMs(model);
        if (run === 0) continue;
        times.product.push(supervised);
        times.baseline.push(alone);
      }
    } finally {
      await supervisor.shutdown();
      events.close();
    }
    const value = round(median(times.product));
    const baseline = round(median(times.baseline));
    console.log(JSON.stringify({
      bench: "supervisor",
      metric: "spawn to ready",
      value,
      baseline,
      ratio: round(value / baseline, 2),
      unit: "ms",
    }));

    const [serveRss, idleRss] = await rssWhileSupervising(dir, model);
    console.log(JSON.stringify({
      bench: "supervisor",
      metric: "RSS of serve with one ready runtime",
      value: round(serveRss),
      baseline: round(idleRss),
      ratio: round(serveRss / idleRss, 2),
      unit: "MiB",
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
