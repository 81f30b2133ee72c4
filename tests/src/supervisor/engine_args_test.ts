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

Deno.test("llamaServerArgs puts the model, threads, context and slots before the extra flags", () => {
  assert.deepEqual(
    llamaServerArgs({
      modelPath: "/m.gguf",
      threads: 2,
      ctxSize: 512,
      parallel: 1,
      extra: ["--mlock"],
    }),
    ["--model", "/m.gguf", "--threads", "2", "--ctx-size", "512", "--parallel", "1", "--mlock"],
  );
});
