/**
 * `deno task bench [NAME]… [--json]`: runs every `bench/<name>_bench.ts` (or the named ones),
 * each as `deno run -A`, collects the JSON lines they print and shows one table of the ratios
 * (`--json`: the collected lines instead).
 *
 * A bench prints one JSON object per line on stdout, measuring the product and a baseline in
 * the same run:
 * `{"bench": "<name>", "metric": "<what>", "value": n, "baseline": n, "ratio": n, "unit": "…"}`;
 * its stderr passes through. A bench that fails or prints anything else is reported, the others
 * still run, and the exit code is 1.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { z } from "zod";
import { errorMessage } from "../src/_util/error_message.ts";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

/** A bench that has not finished by then is stopped and reported. */
const BENCH_TIMEOUT_MS = 15 * 60_000;

/** One line a bench prints. */
export const BenchResultSchema = z.strictObject({
  bench: z.string().min(1),
  metric: z.string().min(1),
  value: z.number(),
  baseline: z.number(),
  ratio: z.number(),
  unit: z.string(),
});

/** One measurement of the product against its baseline. */
export type BenchResult = z.infer<typeof BenchResultSchema>;

/**
 * Parses what a bench printed on stdout: one result per non-empty line.
 *
 * @throws {SyntaxError} naming the first line that is not a valid result.
 */
export function parseBenchOutput(text: string): BenchResult[] {
  const results: BenchResult[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      throw new SyntaxError(`Cannot parse line ${index + 1} of the output: not JSON: ${line}`, {
        cause: error,
      });
    }
    const parsed = BenchResultSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) =>
        `${i.path.join(".") || "(root)"}: ${i.message}`
      );
      throw new SyntaxError(`Cannot parse line ${index + 1} of the output: ${issues.join("; ")}`);
    }
    results.push(parsed.data);
  }
  return results;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toFixed(digits);
}

/** Lays results out as one aligned text table, ratio first after the names. */
export function formatTable(results: readonly BenchResult[]): string {
  const rows = [
    ["bench", "metric", "ratio", "value", "baseline", "unit"],
    ...results.map((r) => [
      r.bench,
      r.metric,
      formatNumber(r.ratio),
      formatNumber(r.value),
      formatNumber(r.baseline),
      r.unit,
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  // Names align left, numbers right.
  return rows.map((row) =>
    row.map((cell, column) =>
      column < 2 || column === 5 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)
    ).join("  ").trimEnd()
  ).join("\n");
}

/** Options for {@linkcode runBench}. */
export interface RunBenchOptions {
  /** Stops the bench when it fires. @default {a 15 min timeout} */
  signal?: AbortSignal;
}

/**
 * Runs one bench file with `deno run -A`, passing its stderr through, and returns its results.
 *
 * @throws {Error} when it exits non-zero, is stopped, or prints something that is not a result.
 */
export async function runBench(
  path: string,
  options: RunBenchOptions = {},
): Promise<BenchResult[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
    signal: options.signal ?? AbortSignal.timeout(BENCH_TIMEOUT_MS),
  }).spawn();
  const [status, stdout] = await Promise.all([child.status, new Response(child.stdout).text()]);
  const name = basename(path);
  if (status.signal !== null) throw new Error(`Cannot finish ${name}: stopped by ${status.signal}`);
  if (status.code !== 0) throw new Error(`Cannot finish ${name}: it exited with ${status.code}`);
  try {
    return parseBenchOutput(stdout);
  } catch (error) {
    throw new Error(`Cannot read the results of ${name}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

/** The bench files in `dir`, sorted; only those named in `names` when any are. */
export async function findBenches(dir: string, names: readonly string[] = []): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const name = /^(.+)_bench\.ts$/.exec(entry.name)?.[1];
    if (entry.isFile && name && (names.length === 0 || names.includes(name))) {
      files.push(join(dir, entry.name));
    }
  }
  const missing = names.filter((n) => !files.some((f) => basename(f) === `${n}_bench.ts`));
  if (missing.length > 0) {
    throw new RangeError(`Cannot find bench/${missing[0]}_bench.ts`);
  }
  return files.sort();
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { json: { type: "boolean" } },
    allowPositionals: true,
  });
  let files: string[];
  try {
    files = await findBenches(BENCH_DIR, positionals);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    console.error(error.message);
    return 2;
  }
  const results: BenchResult[] = [];
  let failed = false;
  for (const file of files) {
    console.error(`bench: ${basename(file)}`);
    try {
      results.push(...await runBench(file));
    } catch (error) {
      console.error(errorMessage(error));
      failed = true;
    }
  }
  if (values.json) {
    for (const result of results) console.log(JSON.stringify(result));
  } else {
    console.log(formatTable(results));
  }
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
