import assert from "node:assert/strict";
import { parseLlamaVersion } from "../../../src/natives/mod.ts";

Deno.test("parseLlamaVersion reads the current version line", () => {
  assert.deepEqual(
    parseLlamaVersion(
      "version: 0.7.0 (build 11669, commit Debian)\nbuilt with GNU 16.2.0 for Linux x86_64\n",
    ),
    { version: "0.7.0", build: 11669, commit: "Debian" },
  );
});

Deno.test("parseLlamaVersion reads the older build-number form", () => {
  assert.deepEqual(parseLlamaVersion("version: 3957 (a1b2c3d)\n"), {
    version: "3957",
    build: 3957,
    commit: "a1b2c3d",
  });
});

Deno.test("parseLlamaVersion throws a SyntaxError when there is no version line", () => {
  assert.throws(() => parseLlamaVersion("usage: llama-server"), SyntaxError);
});
