/**
 * CLI start-up: wall time of `edgellm version` run from the checkout under exactly the
 * permission flags of the compiled binary (`checkoutFlags`), against `deno run` of an empty
 * script, in the same run (alternating, median of each). The ratio is what edgellm's module
 * graph and CLI set-up add to a bare Deno start.
 *
 * `deno run -A bench/startup_bench.ts` prints one JSON line (see `bench/run.ts`).
 *
 * @module
 */
import { join } from "node:path";
import { checkoutFlags } from "../src/permissions/mod.ts";

/** Runs of each command; the first of each is a warm-up and is not counted. */
const RUNS = 15;

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function wallTimeMs(command: Deno.Command): Promise<number> {
  const start = performance.now();
  const { code, stderr } = await command.output();
  const elapsed = performance.now() - start;
  if (code !== 0) throw new Error(`Cannot time the command: ${new TextDecoder().decode(stderr)}`);
  return elapsed;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "edgellm-bench-startup-" });
  try {
    const empty = join(home, "empty.ts");
    await Deno.writeTextFile(empty, "");
    const common = { clearEnv: true, env: { NO_COLOR: "1" }, cwd: home, stdout: "null" } as const;
    const product = new Deno.Command(Deno.execPath(), {
      ...common,
      args: ["run", ...await checkoutFlags({ home }), MAIN, "--home", home, "version"],
    });
    const baseline = new Deno.Command(Deno.execPath(), { ...common, args: ["run", empty] });
    const times = { product: [] as number[], baseline: [] as number[] };
    for (let run = 0; run < RUNS; run++) {
      const p = await wallTimeMs(product);
      const b = await wallTimeMs(baseline);
      if (run === 0) continue;
      times.product.push(p);
      times.baseline.push(b);
    }
    const value = Math.round(median(times.product) * 10) / 10;
    const base = Math.round(median(times.baseline) * 10) / 10;
    console.log(JSON.stringify({
      bench: "startup",
      metric: "edgellm version",
      value,
      baseline: base,
      ratio: Math.round(value / base * 100) / 100,
      unit: "ms",
    }));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) await main();
