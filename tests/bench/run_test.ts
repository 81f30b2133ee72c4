import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type BenchResult,
  findBenches,
  formatTable,
  parseBenchOutput,
  runBench,
} from "../../bench/run.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

const STARTUP: BenchResult = {
  bench: "startup",
  metric: "edgellm version",
  value: 76.4,
  baseline: 17.8,
  ratio: 4.29,
  unit: "ms",
};

Deno.test("parseBenchOutput() reads one result per line", () => {
  const line = JSON.stringify(STARTUP);
  assert.deepEqual(parseBenchOutput(`${line}\n\n${line}\n`), [STARTUP, STARTUP]);
});

Deno.test("parseBenchOutput() names the line that is not a result", () => {
  const good = JSON.stringify(STARTUP);
  assert.throws(
    () => parseBenchOutput(`${good}\nwarming up`),
    new SyntaxError("Cannot parse line 2 of the output: not JSON: warming up"),
  );
  assert.throws(
    () => parseBenchOutput(JSON.stringify({ ...STARTUP, ratio: "4.3" })),
    /line 1 of the output: ratio: /,
  );
  assert.throws(() => parseBenchOutput(JSON.stringify({ ...STARTUP, extra: 1 })), /line 1/);
});

Deno.test("formatTable() aligns names left and numbers right, ratio first", () => {
  const sse = { ...STARTUP, bench: "proxy", metric: "SSE MiB/s", value: 812, baseline: 990 };
  assert.equal(
    formatTable([STARTUP, { ...sse, ratio: 0.82 }]),
    [
      "bench    metric           ratio  value  baseline  unit",
      "startup  edgellm version   4.29   76.4      17.8  ms",
      "proxy    SSE MiB/s         0.82    812       990  ms",
    ].join("\n"),
  );
});

async function withBenches(files: Record<string, string>, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(join(dir, name), text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("runBench() returns what a bench printed and reports one that fails", async () => {
  await withBenches({
    "good_bench.ts": `console.error("progress goes to stderr");
console.log(JSON.stringify(${JSON.stringify(STARTUP)}));`,
    "fails_bench.ts": "Deno.exit(3);",
    "chatty_bench.ts": `console.log("done!");`,
    "helper.ts": "",
  }, async (dir) => {
    assert.deepEqual(
      (await findBenches(dir)).map((f) => f.slice(dir.length + 1)),
      ["chatty_bench.ts", "fails_bench.ts", "good_bench.ts"],
    );
    assert.deepEqual(await runBench(join(dir, "good_bench.ts")), [STARTUP]);
    await assert.rejects(
      runBench(join(dir, "fails_bench.ts")),
      /fails_bench\.ts: it exited with 3/,
    );
    await assert.rejects(
      runBench(join(dir, "chatty_bench.ts")),
      /Cannot read the results of chatty_bench\.ts: .*not JSON: done!/,
    );
    await assert.rejects(findBenches(dir, ["good", "nope"]), /Cannot find bench\/nope_bench\.ts/);
  });
});

Deno.test("deno task bench --json startup measures the product against its baseline", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "bench", "--json", "startup"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const [result, ...rest] = parseBenchOutput(new TextDecoder().decode(output.stdout));
  assert.deepEqual(rest, []);
  assert.equal(result?.bench, "startup");
  assert.equal(result.unit, "ms");
  assert.ok(result.value > 0 && result.baseline > 0);
  assert.ok(Math.abs(result.ratio - result.value / result.baseline) < 0.01);
});
