import { ignoreNotFound } from "../_util/ignore_not_found.ts";
import { Command } from "commander";
import { join } from "node:path";
import { type CommandContext, printJson, withContext, writeStdout } from "../cli/mod.ts";
import { CliError, ExitCode, UsageError } from "../errors.ts";
import { BundleNotFoundError, DIST_DIR } from "./bundle.ts";
import { extractBundle, extractedDir } from "./extract_bundle.ts";
import { type Manifest, MANIFEST_FILE, parseManifest, readManifestText } from "./manifest.ts";
import { hostTarget, isTarget, type Target, TARGETS } from "./target.ts";
import { BundleIntegrityError, verifyBundle } from "./verify_bundle.ts";
import { exists } from "../_util/exists.ts";

/** One bundle that came with the program, as `natives list` reports it. */
interface BundleEntry {
  target: Target;
  /** `embedded` in a compiled binary, `checkout` in `native/dist/`. */
  origin: "embedded" | "checkout";
  /** Where it came with the program. */
  source: string;
  /** Where it runs from: the source in a checkout, `<home>/natives/<hash>` when embedded. */
  dir: string;
  /** Whether `dir` holds it (always for a checkout; once extracted when embedded). */
  ready: boolean;
  llama_cpp: Manifest["llama_cpp"];
  files: number;
  bytes: number;
  manifest: Manifest;
}

/** A runtime's own llama.cpp build (`engine_path`). */
interface EngineEntry {
  runtime: string;
  engine_path: string;
  /** Present and executable. */
  ok: boolean;
}

async function findBundle(target: Target, home: string): Promise<BundleEntry | null> {
  const source = join(DIST_DIR, target);
  const text = await readManifestText(source);
  if (text === null) return null;
  const manifest = parseManifest(text);
  const embedded = Deno.build.standalone;
  const dir = embedded ? extractedDir(home, text) : source;
  return {
    target,
    origin: embedded ? "embedded" : "checkout",
    source,
    dir,
    ready: !embedded || await exists(join(dir, MANIFEST_FILE)),
    llama_cpp: manifest.llama_cpp,
    files: manifest.files.length,
    bytes: manifest.files.reduce((sum, file) => sum + file.size, 0),
    manifest,
  };
}

async function findEngines(context: CommandContext): Promise<EngineEntry[]> {
  const engines: EngineEntry[] = [];
  for (const [runtime, config] of Object.entries(context.config.runtimes)) {
    if (config.engine_path === undefined) continue;
    let ok = false;
    try {
      const info = await Deno.stat(config.engine_path);
      ok = info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
    } catch (error) {
      ignoreNotFound(error);
    }
    engines.push({ runtime, engine_path: config.engine_path, ok });
  }
  return engines;
}

function parseTargets(value: string = hostTarget()): Target[] {
  if (value === "all") return [...TARGETS];
  if (!isTarget(value)) {
    throw new UsageError(
      `Cannot use --target "${value}": use one of ${TARGETS.join(", ")}, or all`,
    );
  }
  return [value];
}

function describe(bundle: BundleEntry): string {
  const { version, build } = bundle.llama_cpp;
  const size = `${(bundle.bytes / 2 ** 20).toFixed(1)} MiB`;
  const where = bundle.ready ? bundle.dir : `${bundle.source} (not extracted yet)`;
  return `${bundle.target}  ${bundle.origin}  llama.cpp ${version} build ${build}  ` +
    `${bundle.files} files  ${size}  ${where}`;
}

function publicEntry({ manifest: _, ...entry }: BundleEntry) {
  return entry;
}

async function list(options: { json?: boolean }, context: CommandContext): Promise<void> {
  const bundles = (await Promise.all(TARGETS.map((target) => findBundle(target, context.home))))
    .filter((bundle) => bundle !== null);
  const engines = await findEngines(context);
  if (options.json) {
    return await printJson({ bundles: bundles.map(publicEntry), engines });
  }
  const lines = [
    ...bundles.map(describe),
    ...engines.map((engine) =>
      `runtime ${engine.runtime}  engine_path ${engine.engine_path}${
        engine.ok ? "" : "  (missing or not executable)"
      }`
    ),
  ];
  await writeStdout(lines.length > 0 ? lines.join("\n") + "\n" : "no llama.cpp bundles\n");
}

async function verify(
  options: { json?: boolean; target?: string },
  context: CommandContext,
): Promise<void> {
  const targets = parseTargets(options.target);
  const results = [];
  for (const target of targets) {
    const bundle = await findBundle(target, context.home);
    if (bundle === null) {
      if (targets.length === 1) {
        const message = new BundleNotFoundError(target, join(DIST_DIR, target)).message;
        throw new CliError(message, ExitCode.Failed);
      }
      continue;
    }
    // An embedded bundle not yet extracted is checked where it is embedded.
    const dir = bundle.ready ? bundle.dir : bundle.source;
    try {
      await verifyBundle(dir, bundle.manifest, { signal: context.signal });
      results.push({ target, dir, ok: true as const });
    } catch (error) {
      if (!(error instanceof BundleIntegrityError)) throw error;
      const { path, expected, actual, message } = error;
      results.push({ target, dir, ok: false as const, error: { path, expected, actual, message } });
    }
  }
  const engines = await findEngines(context);
  if (options.json) await printJson({ bundles: results, engines });
  else {
    await writeStdout(
      [
        ...results.map((result) =>
          result.ok ? `ok  ${result.target}  ${result.dir}` : `FAILED  ${result.error.message}`
        ),
        ...engines.map((engine) =>
          `${engine.ok ? "ok" : "FAILED"}  runtime ${engine.runtime}  ${engine.engine_path}${
            engine.ok ? "" : " is missing or not executable"
          }`
        ),
      ].join("\n") + "\n",
    );
  }
  if (results.length === 0) {
    throw new CliError(
      `Cannot verify natives: no llama.cpp bundle found in '${DIST_DIR}'; ` +
        `build them with "deno task natives --target all"`,
      ExitCode.Failed,
    );
  }
  const failed = results.filter((result) => !result.ok).length +
    engines.filter((engine) => !engine.ok).length;
  if (failed > 0) {
    throw new CliError(`Cannot verify natives: ${failed} failed`, ExitCode.Failed);
  }
}

async function extract(
  options: { json?: boolean; target?: string },
  context: CommandContext,
): Promise<void> {
  const extracted = [];
  for (const target of parseTargets(options.target)) {
    const source = join(DIST_DIR, target);
    try {
      const { bundle, status } = await extractBundle(source, context.home, {
        signal: context.signal,
      });
      extracted.push({ target, dir: bundle.dir, status });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new CliError(new BundleNotFoundError(target, source).message, ExitCode.Failed, {
          cause: error,
        });
      }
      if (error instanceof BundleIntegrityError) {
        throw new CliError(error.message, ExitCode.Failed, { cause: error });
      }
      throw error;
    }
  }
  if (options.json) return await printJson({ extracted });
  await writeStdout(
    extracted.map((entry) => `${entry.status}  ${entry.target}  ${entry.dir}`).join("\n") + "\n",
  );
}

/**
 * `edgellm natives list|verify|extract [--json]`: the llama.cpp bundles that came with the
 * program (embedded in a compiled binary, or `native/dist/` in a checkout) and the runtimes'
 * own builds (`engine_path`).
 */
export function nativesCommand(): Command {
  const natives = new Command("natives")
    .description("list, verify or extract the llama.cpp bundles and configured engine_paths");
  natives.command("list")
    .description("show the bundles (target, llama.cpp build, size, folder) and engine_paths")
    .option("--json", "machine-readable output")
    .action(withContext(list));
  natives.command("verify")
    .description("check every bundle file against its manifest sha256, and each engine_path")
    .option("--target <target>", `${TARGETS.join(", ")} or all (default: this machine's)`)
    .option("--json", "machine-readable output")
    .action(withContext(verify));
  natives.command("extract")
    .description("extract the bundle to <home>/natives/<hash>/ (repairing a changed copy)")
    .option("--target <target>", `${TARGETS.join(", ")} or all (default: this machine's)`)
    .option("--json", "machine-readable output")
    .action(withContext(extract));
  return natives;
}
