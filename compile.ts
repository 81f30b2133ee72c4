/**
 * `deno task compile [--target T]… [--home DIR] [--hub-endpoint URL]… [--dry-run]`: builds the
 * single `edgellm` executable of each target into `dist/`.
 *
 * For each target: check that Deno's runtime for it (denort) can be had, assemble the
 * llama.cpp bundle (`deno task natives --target T`), then `deno compile --target T
 * --include native/dist/T` with the permission flags of `src/permissions/` for the device's
 * scope, fixed at build time. Then write `dist/SHA256SUMS` and print the sizes. The commands
 * come from the pure plan in `compile/`, which `--dry-run` prints.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  checkDenortBin,
  COMPILE_HELP,
  type CompileOptions,
  denortFailure,
  parseCompileArgs,
  planTarget,
  shellQuote,
  type TargetPlan,
  writeChecksums,
} from "./src/compile/mod.ts";
import { CliError, ExitCode } from "./src/errors.ts";
import { bundleGrants, MANIFEST_FILE, type Target } from "./src/natives/mod.ts";

/** The checkout: the plan's commands run here, and its paths are relative to it. */
const ROOT = dirname(fileURLToPath(import.meta.url));

/** Compiling an empty probe only finds denort in the cache or downloads it (~40 MB). */
const PROBE_TIMEOUT_MS = 10 * 60_000;
/** The natives recipe may download and unpack a suite of Debian packages. */
const NATIVES_TIMEOUT_MS = 60 * 60_000;
/** Type checking and writing a ~150 MB executable. */
const COMPILE_TIMEOUT_MS = 20 * 60_000;

/**
 * Runs a command in the checkout, passing its output through to stderr (stdout is for the
 * result) and keeping it, within a time bound.
 */
async function run(argv: readonly string[], timeoutMs: number): Promise<string> {
  const [command = "", ...args] = argv;
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).spawn();
  let output = "";
  const encoder = new TextEncoder();
  async function pass(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      output += text;
      await Deno.stderr.write(encoder.encode(text));
    }
  }
  const [status] = await Promise.all([child.status, pass(child.stdout), pass(child.stderr)]);
  const name = `"deno ${argv.slice(1, 3).join(" ")}"`;
  if (status.signal === "SIGTERM") {
    throw new CliError(
      `Cannot finish ${name}: it did not end within ${timeoutMs / 60_000} min and was stopped`,
      ExitCode.Failed,
    );
  }
  if (status.code !== 0) throw new RunError(name, status.code, output);
  return output;
}

/** A command of the plan exited non-zero. */
class RunError extends Error {
  override readonly name = "RunError";
  /** Its exit code. */
  readonly code: number;
  /** What it printed. */
  readonly output: string;

  /** Constructs a new instance. */
  constructor(command: string, code: number, output: string) {
    super(`${command} failed (exit ${code}); its output is above`);
    this.code = code;
    this.output = output;
  }
}

/** Runs `deno compile`, turning "cannot get denort" into the message that says how to fix it. */
async function denoCompile(target: Target, argv: readonly string[], timeoutMs: number) {
  try {
    await run(argv, timeoutMs);
  } catch (error) {
    if (!(error instanceof RunError)) throw error;
    const message = denortFailure(target, error.output) ??
      `Cannot compile for "${target}": ${error.message}`;
    throw new CliError(message, ExitCode.Failed, { cause: error });
  }
}

/**
 * Makes sure denort for `target` can be had before any time is spent on the bundle: checks
 * `DENORT_BIN`, or else compiles an empty probe, which finds denort in `DENO_DIR` or downloads
 * it there (so the real compile then has it).
 */
async function ensureDenort(target: Target): Promise<void> {
  const denortBin = Deno.env.get("DENORT_BIN");
  if (denortBin) return await checkDenortBin(denortBin, target);
  const dir = await Deno.makeTempDir({ prefix: "edgellm-denort-probe-" });
  try {
    await Deno.writeTextFile(join(dir, "probe.ts"), "");
    const probe = [Deno.execPath(), "compile", "--no-config", "--no-check", "--quiet"];
    const paths = ["--output", join(dir, "probe"), join(dir, "probe.ts")];
    await denoCompile(target, [...probe, "--target", target, ...paths], PROBE_TIMEOUT_MS);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Where the compiled binary will run the bundle's loader from, computed as the natives code
 * does (`<home>/natives/<hash>/<loader>`); `undefined` while the bundle is not assembled.
 */
async function deviceLoader(target: Target, home: string): Promise<string | undefined> {
  return (await bundleGrants(home, { target, embedded: true })).run[0];
}

/** Assembles (or verifies) `native/dist/<target>` and returns the loader path on the device. */
async function assembleNatives(plan: TargetPlan, home: string): Promise<string> {
  const { target } = plan;
  const cannot = `Cannot assemble the llama.cpp bundle for "${target}"`;
  try {
    await run(plan.natives, NATIVES_TIMEOUT_MS);
  } catch (error) {
    if (!(error instanceof RunError)) throw error;
    throw new CliError(`${cannot}: ${error.message}`, ExitCode.Failed, { cause: error });
  }
  const loader = await deviceLoader(target, home);
  if (!loader) {
    throw new CliError(
      `${cannot}: the recipe wrote no native/dist/${target}/${MANIFEST_FILE}`,
      ExitCode.Failed,
    );
  }
  return loader;
}

/** Builds every target: denort checks first, then for each the bundle and the executable. */
async function build(options: CompileOptions): Promise<void> {
  for (const target of options.targets) await ensureDenort(target);
  await Deno.mkdir(join(ROOT, "dist"), { recursive: true });
  for (const target of options.targets) {
    const loader = await assembleNatives(planTarget(target, options), options.home);
    const plan = planTarget(target, options, { loader });
    console.error(`$ ${plan.compile.map(shellQuote).join(" ")}`);
    await denoCompile(target, plan.compile, COMPILE_TIMEOUT_MS);
  }
  for (const file of await writeChecksums(join(ROOT, "dist"))) {
    console.log(`dist/${file.name}  ${(file.size / 2 ** 20).toFixed(1)} MiB  ${file.sha256}`);
  }
  console.log("dist/SHA256SUMS");
}

async function printPlan(options: CompileOptions, json: boolean): Promise<void> {
  const plans: TargetPlan[] = [];
  for (const target of options.targets) {
    plans.push(planTarget(target, options, { loader: await deviceLoader(target, options.home) }));
  }
  if (json) return console.log(JSON.stringify(plans, null, 2));
  for (const plan of plans) {
    console.log(
      `# ${plan.target}: check that denort can be had (DENORT_BIN, DENO_DIR or download)`,
    );
    console.log(plan.natives.map(shellQuote).join(" "));
    if (!plan.loader) {
      console.log(
        `# the bundle's hash and loader come from native/dist/${plan.target}/manifest.json`,
      );
    }
    console.log(plan.compile.map(shellQuote).join(" "));
  }
  console.log("# then write dist/SHA256SUMS and print the sizes");
}

async function main(args: readonly string[]): Promise<number> {
  try {
    const { options, dryRun, json, help } = parseCompileArgs(args);
    if (help) console.log(COMPILE_HELP);
    else if (dryRun) await printPlan(options, json);
    else await build(options);
    return ExitCode.Ok;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(error.message);
    return error.exitCode;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
