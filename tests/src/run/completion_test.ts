import assert from "node:assert/strict";
import { join } from "node:path";
import { execLine, readManifest, TARGETS } from "../../../src/natives/mod.ts";
import { completionArgs, parseCompletion, runCompletion } from "../../../src/run/mod.ts";
import { Spawner } from "../../../src/supervisor/mod.ts";
import { ensureBundle } from "../../_util/natives.ts";
import { writeTinyModel } from "../../_util/tiny_model.ts";

const PERF = `
0.00.512.111 I common_perf_print:    sampling time =       0.07 ms
0.00.512.128 I common_perf_print:    samplers time =       0.04 ms /    11 tokens
0.00.512.142 I common_perf_print:        load time =     363.89 ms
0.00.512.155 I common_perf_print: prompt eval time =     363.77 ms /     3 tokens (  121.26 ms per token,     8.25 tokens per second)
0.00.512.168 I common_perf_print:        eval time =      76.88 ms /     7 runs   (   10.98 ms per token,    91.06 tokens per second)
0.00.512.181 I common_perf_print:       total time =     441.85 ms /    10 tokens
`;

Deno.test("parseCompletion strips llama-completion's trailer and reads the perf report", () => {
  assert.deepEqual(parseCompletion("5#2D,9k5\n\n", PERF), {
    text: "5#2D,9k5",
    stats: {
      tokens: { prompt: 3, generated: 8 },
      timings: { load_ms: 363.89, prompt_ms: 363.77, generation_ms: 76.88, total_ms: 441.85 },
    },
  });
});

Deno.test("parseCompletion drops the end-of-text marker and gives no stats without a report", () => {
  assert.deepEqual(parseCompletion("Hello\nworld [end of text]\n\n\n", "killed"), {
    text: "Hello\nworld",
    stats: null,
  });
});

for (const target of TARGETS) {
  Deno.test(`llama-completion of the ${target} bundle generates tokens from a tiny model`, async () => {
    const dir = await ensureBundle(target);
    const bundle = { dir, manifest: await readManifest(dir) };
    const temp = await Deno.makeTempDir();
    const model = join(temp, "tiny.gguf");
    const line = execLine(
      { bundle, executable: "llama-completion" },
      completionArgs({ model, prompt: "hi", tokens: 8, threads: 2, seed: 1 }),
    );
    const spawner = new Spawner({ run: [line.command] });
    try {
      await writeTinyModel(model);
      const { result, completion: { text, stats } } = await runCompletion(
        spawner,
        { ...line, env: {} },
        { timeoutMs: 120_000 },
      );
      assert.equal(result.code, 0, result.stderr);
      // The tiny model writes exactly the tokens asked for, each one printable ASCII byte
      // (llama.cpp may drop a leading space).
      assert.match(text, /^[\x20-\x7e]{1,8}$/);
      assert.equal(stats?.tokens.generated, 8);
      assert.ok(stats.tokens.prompt >= 2);
    } finally {
      spawner.close();
      await Deno.remove(temp, { recursive: true });
    }
  });
}
