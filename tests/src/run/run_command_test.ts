import assert from "node:assert/strict";
import { join } from "node:path";
import { runEdgellm, spawnEdgellm } from "../../_util/cli.ts";
import { ensureBundle } from "../../_util/natives.ts";
import { assertNoProcesses } from "../../_util/processes.ts";
import { writeTinyModel } from "../../_util/tiny_model.ts";
import { waitFor } from "../../_util/wait_for.ts";

/** Runs `fn` with a temp home holding `tiny.gguf` (inside the home: edgellm may read it). */
async function withModel(
  fn: (home: string, model: string) => Promise<void>,
  options: { contextLength?: number } = {},
): Promise<void> {
  await ensureBundle("x86_64-unknown-linux-gnu");
  const home = await Deno.makeTempDir();
  try {
    const model = join(home, "tiny.gguf");
    await writeTinyModel(model, options);
    await fn(home, model);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

/** Pids of live processes whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(text)) pids.push(Number(entry.name));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return pids;
}

Deno.test("run prints the generated text and nothing else on stdout", async () => {
  await withModel(async (home, model) => {
    const result = await runEdgellm(["run", "--model", model, "--prompt", "hi", "-n", "8"], {
      home,
    });
    assert.equal(result.code, 0, result.stderr);
    // The tiny model writes printable ASCII only (llama.cpp may drop a leading space).
    assert.match(result.stdout, /^[\x20-\x7e]{1,8}\n$/);
  });
});

Deno.test("run resolves a configured model id and --json reports tokens, timings and exit", async () => {
  await withModel(async (home, model) => {
    const config = join(home, "edgellm.toml");
    await Deno.writeTextFile(config, `[models.tiny]\npath = "${model}"\n`);
    const result = await runEdgellm(
      ["run", "--model", "tiny", "--prompt", "hi", "-n", "8", "--json"],
      { home, config },
    );
    assert.equal(result.code, 0, result.stderr);
    const output = JSON.parse(result.stdout);
    assert.match(output.text, /^[\x20-\x7e]{1,8}$/);
    assert.equal(output.tokens.generated, 8);
    assert.ok(output.tokens.prompt >= 2);
    assert.ok(output.timings.total_ms > 0);
    assert.deepEqual(output.exit, { code: 0, signal: null, timed_out: false });
  });
});

Deno.test("run --dry-run prints the llama-completion command line without running it", async () => {
  await withModel(async (home, model) => {
    const result = await runEdgellm(
      ["run", "--model", model, "--prompt", "it's", "-n", "8", "--dry-run"],
      { home },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^env -i OMP_WAIT_POLICY=passive \/\S+\/ld-linux-x86-64\.so\.2 /);
    assert.match(
      result.stdout,
      /\/bin\/llama-completion --model \S+tiny\.gguf --prompt 'it'\\''s' --n-predict 8 /,
    );
  });
});

Deno.test("run exits 1 with a timeout message and leaves no llama.cpp process when --timeout fires", async () => {
  // A context of 64k tokens and -n 60000 keep the tiny model generating for minutes.
  await withModel(async (home, model) => {
    const result = await runEdgellm(
      ["run", "--model", model, "--prompt", "hi", "-n", "60000", "--timeout", "1", "--json"],
      { home },
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /Cannot complete: timed out after 1 s \(--timeout\)/);
    const output = JSON.parse(result.stdout);
    assert.equal(output.exit.timed_out, true);
    assert.equal(output.exit.signal, "SIGTERM");
    assert.deepEqual(await processesMentioning(model), []);
  }, { contextLength: 65536 });
});

Deno.test("run's llama-completion dies with edgellm when edgellm is killed", async () => {
  // It is spawned through setpriv --pdeathsig, as jobs are: nothing is left to finish a
  // generation nobody waits for.
  await withModel(async (home, model) => {
    const edgellm = await spawnEdgellm(
      ["run", "--model", model, "--prompt", "hi", "-n", "60000"],
      { home },
    );
    await waitFor("llama-completion to start", async () => {
      const pids = await processesMentioning(model);
      return pids.some((pid) => pid !== edgellm.pid);
    }, { timeoutMs: 30_000 });
    edgellm.kill("SIGKILL");
    await edgellm.status;
    await Promise.all([edgellm.stdout.cancel(), edgellm.stderr.cancel()]);
    await assertNoProcesses(model);
  }, { contextLength: 65536 });
});

Deno.test("run exits 1 naming the file when the model is not a GGUF file", async () => {
  await withModel(async (home) => {
    const model = join(home, "notes.gguf");
    await Deno.writeTextFile(model, "not a model\n");
    const result = await runEdgellm(["run", "--model", model, "--prompt", "hi"], { home });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Cannot read GGUF file '.*notes\.gguf'/);
    assert.equal(result.stdout, "");
  });
});
