/**
 * `deno task demo [--once] [--port N] [--dir DIR]`: the whole product on this machine in one
 * command. It assembles the llama.cpp bundle for this machine, generates a tiny model into an
 * offline source laid out like a Hugging Face cache, imports it with
 * `edgellm bootstrap --from … --offline`, starts `edgellm serve`, prints one completion made
 * over HTTP, and keeps serving until Ctrl-C (`--once` stops after the completion).
 *
 * Every edgellm step runs through `deno task edgellm`, so under exactly the permission flags
 * of a compiled binary. Reruns are cheap: the bundle is cached and the model is the same bytes,
 * so the bootstrap has nothing to do.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { HubStore } from "../bootstrap/store.ts";
import { freePort } from "../src/supervisor/probe.ts";
import { tinyModelBytes } from "../tests/_util/tiny_model.ts";

const REPO_ROOT = join(import.meta.dirname ?? ".", "..");
const DEMO_REPO = "edgellm/tiny-demo";
const MODEL_FILE = "tiny-demo-F32.gguf";
const READY_TIMEOUT_MS = 120_000;
const PROMPT = "Once upon a time";

function log(message: string): void {
  console.error(`demo: ${message}`);
}

/**
 * Runs `deno task <args>` in the checkout and resolves when it exits 0. What the step prints
 * goes to stderr: the demo's stdout is the completion alone.
 */
async function task(args: string[]): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", ...args],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  await child.stdout.pipeTo(Deno.stderr.writable, { preventClose: true });
  const { code } = await child.status;
  if (code !== 0) {
    throw new Error(`Cannot run the demo: 'deno task ${args.join(" ")}' exited ${code}`);
  }
}

/**
 * Writes the tiny model into `root` the way huggingface_hub caches a download: the content in
 * `blobs/<sha256>`, a relative link in `snapshots/<commit>/`, and `refs/main` naming the commit.
 */
async function writeOfflineSource(root: string): Promise<void> {
  const bytes = tinyModelBytes({ seed: 1, name: "tiny-demo" });
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  // A stable stand-in for the git commit the hub would report for this content.
  const commit = createHash("sha1").update(`edgellm-demo:${sha256}`).digest("hex");
  const store = new HubStore(root);
  const blob = store.blobPath(DEMO_REPO, sha256);
  const link = store.snapshotPath(DEMO_REPO, commit, MODEL_FILE);
  await Deno.mkdir(dirname(blob), { recursive: true });
  await Deno.mkdir(dirname(link), { recursive: true });
  await Deno.mkdir(dirname(store.refPath(DEMO_REPO, "main")), { recursive: true });
  await Deno.writeFile(blob, bytes);
  await Deno.remove(link).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.symlink(relative(dirname(link), blob), link);
  await Deno.writeTextFile(store.refPath(DEMO_REPO, "main"), commit);
}

function demoConfig(port: number): string {
  return `# Written by deno task demo.
[server]
host = "127.0.0.1"
port = ${port}

[hub]
offline = true

[models.tiny]
hf_repo = "${DEMO_REPO}"
revision = "main"
include = ["*.gguf"]

[runtimes.chat]
model = "tiny"
threads = 1
ctx_size = 512
parallel = 2
health = { interval_ms = 500, startup_timeout_s = 60 }
`;
}

/** Polls `/ready` until it answers 200, failing early if `serve` exits. */
async function waitUntilReady(base: string, serve: Deno.ChildProcess): Promise<void> {
  let exited: number | undefined;
  serve.status.then((status) => exited = status.code);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`Cannot run the demo: serve exited ${exited}`);
    // A refused connection means serve is not listening yet: poll again.
    const answer = await fetch(`${base}/ready`).catch(() => undefined);
    await answer?.body?.cancel();
    if (answer?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`Cannot run the demo: serve was not ready within ${READY_TIMEOUT_MS / 1000} s`);
}

async function complete(base: string, token: string): Promise<string> {
  const answer = await fetch(`${base}/v1/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "chat", prompt: PROMPT, max_tokens: 24, temperature: 0 }),
  });
  const body = await answer.json();
  if (!answer.ok) {
    throw new Error(
      `Cannot run the demo: completion answered ${answer.status}: ${JSON.stringify(body)}`,
    );
  }
  return String(body.choices?.[0]?.text ?? "");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      once: { type: "boolean", default: false },
      port: { type: "string", default: "0" },
      dir: { type: "string", default: join(REPO_ROOT, ".edgellm", "demo") },
    },
  });
  const home = join(values.dir, "home");
  const source = join(home, "import", "hub");
  const config = join(home, "edgellm.toml");
  const port = Number(values.port) || freePort();
  const token = crypto.randomUUID();
  const base = `http://127.0.0.1:${port}`;
  const cli = ["edgellm", "--home", home, "--config", config];

  log("assembling the llama.cpp bundle for this machine (cached after the first run)");
  await task(["natives"]);
  log(`generating a tiny model into an offline source: ${source}`);
  await writeOfflineSource(source);
  await Deno.writeTextFile(config, demoConfig(port));
  log("importing it: edgellm bootstrap --from … --offline");
  await task([...cli, "bootstrap", "--from", source, "--offline"]);

  log(`starting edgellm serve on ${base}`);
  const serve = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", ...cli, "serve"],
    cwd: REPO_ROOT,
    env: { EDGELLM_TOKEN: token },
    // Its own session: a terminal's Ctrl-C reaches only the demo, which stops serve once.
    detached: true,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    serve.kill("SIGTERM");
    return (await serve.status).code;
  };
  try {
    await waitUntilReady(base, serve);
    const text = await complete(base, token);
    console.log(`${PROMPT}${text}`);
  } catch (error) {
    await stop();
    throw error;
  }
  if (values.once) Deno.exit(await stop());
  log(`serving on ${base} until Ctrl-C; try:`);
  log(
    `curl -s ${base}/v1/chat/completions -H 'Authorization: Bearer ${token}' ` +
      `-H 'content-type: application/json' -d '{"messages":[{"role":"user","content":"hi"}],"max_tokens":16}'`,
  );
  const code = await new Promise<number>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => stop().then(resolve));
    }
  });
  Deno.exit(code);
}

if (import.meta.main) await main();
