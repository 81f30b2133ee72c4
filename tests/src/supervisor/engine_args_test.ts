import assert from "node:assert/strict";
import { checkEngineArgs, llamaServerArgs } from "../../../src/supervisor/engine_args.ts";

Deno.test("checkEngineArgs accepts allow-listed flags with and without values", () => {
  checkEngineArgs([
    "--mlock",
    "-ngl",
    "0",
    "--seed=-1",
    "--seed",
    "-1",
    "--temp",
    "0.7",
    "-fa",
    "on",
  ]);
});

Deno.test("checkEngineArgs refuses flags that read files, reach the network or that edgellm sets", () => {
  const refused: [string[], RegExp][] = [
    [["--host", "0.0.0.0"], /edgellm sets it from the loopback host/],
    [["--port=9"], /the free port/],
    [["-m", "/etc/shadow"], /from model/],
    [["-t", "8"], /from threads/],
    [["--lora", "/tmp/x"], /not among the llama-server flags/],
    [["--log-file", "/tmp/x"], /not among/],
    [["-hf", "org/name"], /not among/],
    [["--api-key", "k"], /not among/],
    [["--mlock=1"], /takes no value/],
    [["--temp"], /needs a value/],
    [["--temp", "--mlock"], /needs a value/],
  ];
  for (const [args, message] of refused) {
    assert.throws(() => checkEngineArgs(args), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, message, args.join(" "));
      return true;
    });
  }
});

Deno.test("llamaServerArgs puts the model, threads, context, slots and --metrics before the extra flags", () => {
  assert.deepEqual(
    llamaServerArgs({
      modelPath: "/m.gguf",
      threads: 2,
      ctxSize: 512,
      parallel: 1,
      extra: ["--mlock"],
    }),
    [
      "--model",
      "/m.gguf",
      "--threads",
      "2",
      "--ctx-size",
      "512",
      "--parallel",
      "1",
      "--metrics",
      "--mlock",
    ],
  );
});

Deno.test("llamaServerArgs adds a spare slot for the deep probe, keeping each slot's context (review finding 4)", () => {
  const args = llamaServerArgs({
    modelPath: "/m.gguf",
    threads: 2,
    ctxSize: 4096,
    parallel: 2,
    probeSlot: true,
  });
  // llama-server splits --ctx-size over --parallel: 6144 / 3 = 2048 = 4096 / 2 per slot.
  assert.deepEqual(args.slice(4, 8), ["--ctx-size", "6144", "--parallel", "3"]);
});
