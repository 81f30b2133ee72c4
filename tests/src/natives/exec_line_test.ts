import assert from "node:assert/strict";
import { type BundleLayout, execLine } from "../../../src/natives/mod.ts";

const bundle: BundleLayout = {
  dir: "/opt/natives/abc",
  manifest: {
    target: "x86_64-unknown-linux-gnu",
    loader: "lib/ld-linux-x86-64.so.2",
    library_path: "lib",
    executables: { "llama-server": "bin/llama-server" },
  },
};

Deno.test("execLine runs a bundle executable through its loader with --library-path", () => {
  assert.deepEqual(
    execLine({ bundle, executable: "llama-server" }, ["--port", "0"], {
      host: "x86_64-unknown-linux-gnu",
    }),
    {
      command: "/opt/natives/abc/lib/ld-linux-x86-64.so.2",
      args: [
        "--library-path",
        "/opt/natives/abc/lib",
        "/opt/natives/abc/bin/llama-server",
        "--port",
        "0",
      ],
    },
  );
});

Deno.test("execLine runs an engine_path executable as it is", () => {
  assert.deepEqual(execLine({ enginePath: "/opt/bitnet/bin/llama-server" }, ["--version"]), {
    command: "/opt/bitnet/bin/llama-server",
    args: ["--version"],
  });
});

Deno.test("execLine rejects a relative engine_path", () => {
  assert.throws(
    () => execLine({ enginePath: "bin/llama-server" }),
    (error) => error instanceof TypeError && /must be an absolute path/.test(error.message),
  );
});

Deno.test("execLine rejects an executable the bundle does not have", () => {
  assert.throws(
    () => execLine({ bundle, executable: "llama-imatrix" }),
    (error) => error instanceof TypeError && /"llama-imatrix".*"llama-server"/.test(error.message),
  );
});

Deno.test("execLine prefixes qemu when the bundle is for another architecture", () => {
  const arm: BundleLayout = {
    ...bundle,
    manifest: {
      ...bundle.manifest,
      target: "aarch64-unknown-linux-gnu",
      loader: "lib/ld-linux-aarch64.so.1",
    },
  };
  const line = execLine({ bundle: arm, executable: "llama-server" }, [], {
    host: "x86_64-unknown-linux-gnu",
  });
  assert.equal(line.command, "/usr/bin/qemu-aarch64-static");
  assert.deepEqual(line.args.slice(0, 3), [
    "/opt/natives/abc/lib/ld-linux-aarch64.so.1",
    "--library-path",
    "/opt/natives/abc/lib",
  ]);
});
