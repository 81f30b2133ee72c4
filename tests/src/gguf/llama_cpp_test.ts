import assert from "node:assert/strict";
import { GgufError, readGgufHeader } from "../../../src/gguf/mod.ts";
import { bundledTool } from "../../_util/natives.ts";
import { type TinyModelDefect, writeTinyModel } from "../../_util/tiny_model.ts";

const TIMEOUT_MS = 60_000;

async function run(name: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const tool = await bundledTool(name);
  const { code, stderr } = await new Deno.Command(tool.command, {
    args: [...tool.args, ...args],
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "gguf_llama_cpp_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readGgufHeader reads the files llama-quantize writes, whatever their tensor types", async () => {
  await withTempDir(async (dir) => {
    // Rows of 256 values, so that the k-quants apply to every matrix.
    const source = `${dir}/f32.gguf`;
    await writeTinyModel(source, { embeddingLength: 256, heads: 4, feedForwardLength: 256 });
    for (const type of ["Q4_K_M", "Q6_K", "Q8_0", "IQ4_NL", "BF16", "TQ2_0", "Q1_0"]) {
      const target = `${dir}/${type}.gguf`;
      const quantize = await run("llama-quantize", [source, target, type]);
      assert.equal(quantize.code, 0, quantize.stderr);
      const header = await readGgufHeader(target);
      assert.equal(header.fileTypeName, type);
      assert.equal(header.architecture, "llama");
      assert.equal(header.contextLength, 512);

      // The same file cut by one byte is refused by both.
      const cut = `${dir}/${type}_cut.gguf`;
      const bytes = await Deno.readFile(target);
      await Deno.writeFile(cut, bytes.subarray(0, bytes.length - 1));
      await assert.rejects(
        readGgufHeader(cut),
        (e: unknown) => e instanceof GgufError && e.reason === "truncated",
      );
      const load = await run("llama-completion", ["-m", cut, "-n", "1", "-no-cnv", "-t", "1"]);
      assert.equal(load.code, 1);
    }
  });
});

Deno.test("readGgufHeader refuses the broken files that llama.cpp refuses, and only those", async () => {
  await withTempDir(async (dir) => {
    const good = `${dir}/good.gguf`;
    await writeTinyModel(good, { vocabularySize: 1000 });
    const header = await readGgufHeader(good);
    assert.equal(header.metadata.get("llama.vocab_size"), 1000);
    const load = await run("llama-completion", ["-m", good, "-n", "1", "-no-cnv", "-t", "1"]);
    assert.equal(load.code, 0, load.stderr);

    const defects: TinyModelDefect[] = [
      "truncated",
      "bad-magic",
      "unsupported-version",
      "big-endian",
    ];
    for (const defect of defects) {
      const path = `${dir}/${defect}.gguf`;
      await writeTinyModel(path, { defect });
      await assert.rejects(readGgufHeader(path), GgufError);
      const { code } = await run("llama-completion", ["-m", path, "-n", "1", "-no-cnv", "-t", "1"]);
      assert.equal(code, 1, defect);
    }
  });
});
