import assert from "node:assert/strict";
import { ELF_MACHINE, parseElfDynamic } from "../../native/mod.ts";
import { ensureBundle } from "../_util/natives.ts";

Deno.test("parseElfDynamic reads NEEDED, RUNPATH and the loader of llama-server", async () => {
  const dir = await ensureBundle("x86_64-unknown-linux-gnu");
  const elf = parseElfDynamic(await Deno.readFile(`${dir}/bin/llama-server`));
  assert.equal(elf.machine, ELF_MACHINE.x86_64);
  assert.equal(elf.interpreter, "/lib64/ld-linux-x86-64.so.2");
  assert.ok(elf.needed.includes("libllama-server-impl.so"));
  assert.deepEqual(elf.runpath, ["/usr/lib/x86_64-linux-gnu/llama"]);
  assert.equal(elf.soname, null);
});

Deno.test("parseElfDynamic reads the SONAME of an aarch64 library", async () => {
  const dir = await ensureBundle("aarch64-unknown-linux-gnu");
  const elf = parseElfDynamic(await Deno.readFile(`${dir}/lib/libllama.so.0`));
  assert.equal(elf.machine, ELF_MACHINE.aarch64);
  assert.equal(elf.soname, "libllama.so.0");
  assert.equal(elf.interpreter, null);
});

Deno.test("parseElfDynamic throws a SyntaxError when the bytes are not ELF", () => {
  assert.throws(() => parseElfDynamic(new TextEncoder().encode("#!/bin/sh\n")), SyntaxError);
});

Deno.test("parseElfDynamic throws a SyntaxError when the file is truncated", async () => {
  const dir = await ensureBundle("x86_64-unknown-linux-gnu");
  const bytes = await Deno.readFile(`${dir}/lib/libz.so.1`);
  assert.throws(() => parseElfDynamic(bytes.subarray(0, 200)), SyntaxError);
});
