/**
 * Assembles the llama.cpp bundle of a target into `native/dist/<target>/` from Debian
 * unstable's packages: `deno task natives [--target <target>|all] [--refresh] [--offline]`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  BundleIntegrityError,
  engineVersion,
  hostTarget,
  isTarget,
  type Manifest,
  MANIFEST_FILE,
  MANIFEST_SCHEMA_VERSION,
  parseManifest,
  readManifest,
  type Target,
  TARGETS,
  verifyBundle,
} from "../src/natives/mod.ts";
import { APT_SOURCES, DebianArchive, type DebPackage, parseAptMirror } from "./debian_archive.ts";
import { parseElfDynamic } from "./elf_dynamic.ts";
import { resolveClosure } from "./resolve_closure.ts";
import { Sysroot, type SysrootFile } from "./sysroot.ts";
import { DEBIAN_TARGETS, tempSibling } from "./_util.ts";
import { ignoreNotFound } from "../src/_util/ignore_not_found.ts";
import { replaceDir } from "../src/natives/_util.ts";

/** The Debian suite the bundles come from: the newest llama.cpp. */
export const SUITE = "unstable";

/** The packages the closure starts from; every other package is found through `DT_NEEDED`. */
export const SEEDS = ["llama.cpp-tools", "libllama0", "libggml0"] as const;

/**
 * The llama.cpp executables edgellm runs: the server for runtimes, completion and cli for
 * one-shot runs, bench for benchmarks, quantize for preparing models. The package's other
 * tools are left out to keep the bundle small.
 */
export const EXECUTABLES = [
  "llama-server",
  "llama-cli",
  "llama-completion",
  "llama-bench",
  "llama-quantize",
] as const;

/** The folder `deno task natives` writes to. */
export const DEFAULT_DIST_DIR: string = fileURLToPath(new URL("./dist", import.meta.url));

/** Options for {@linkcode assembleBundle}. */
export interface AssembleBundleOptions {
  /** Folder that receives `<target>/`. @default DEFAULT_DIST_DIR (`native/dist/`) */
  distDir?: string;
  /** Download cache. @default `$XDG_CACHE_HOME/edgellm`, else `~/.cache/edgellm` */
  cacheDir?: string;
  /** Debian mirror URI. @default the first `URIs:` of {@linkcode APT_SOURCES} */
  mirror?: string;
  /** Rebuild even when the existing bundle verifies (to pick up a newer suite). @default false */
  refresh?: boolean;
  /**
   * Build from the download cache only (the Release file of the last online run), never
   * touching the network.
   * @default false
   */
  offline?: boolean;
  /** Receives one line per step. @default console.log */
  log?: (line: string) => void;
  /** Cancels downloads and copying; no partial bundle is left behind. */
  signal?: AbortSignal;
}

/** What {@linkcode assembleBundle} produced. */
export interface AssembleResult {
  /** The bundle folder, `<distDir>/<target>`. */
  dir: string;
  /** The bundle's `manifest.json`: llama.cpp build, files and their digests. */
  manifest: Manifest;
  /** `false` when the existing bundle verified and nothing was done (no network either). */
  built: boolean;
}

/**
 * Builds `<distDir>/<target>/`: `bin/` with {@linkcode EXECUTABLES}, `lib/` with every
 * library they and ggml's CPU backend variants need (flat, under the name they are needed
 * by), the dynamic loader, and `manifest.json`. The closure comes from the ELF `DT_NEEDED`
 * entries: a library no unpacked package has is looked up in the suite's Contents index.
 * Every .deb is checked against the Packages index's sha256 and cached by it.
 *
 * When the existing bundle verifies against its manifest this returns at once, without
 * network access. The new bundle is written beside the old one and renamed into place, so
 * `<target>/` is always complete; concurrent runs take turns under a lock.
 *
 * @throws {Error} when a download, a package or a library is missing, or the result does not
 * run (an aarch64 bundle is run under qemu on x86_64 to read its version).
 */
export async function assembleBundle(
  target: Target,
  options: AssembleBundleOptions = {},
): Promise<AssembleResult> {
  const log = options.log ?? console.log;
  const distDir = options.distDir ?? DEFAULT_DIST_DIR;
  const dir = join(distDir, target);
  await Deno.mkdir(distDir, { recursive: true });
  using lock = await Deno.open(join(distDir, `.${target}.lock`), { create: true, write: true });
  await lock.lock(true);

  if (!options.refresh) {
    const manifest = await verifiedManifest(dir);
    if (manifest !== null) {
      log(`${target}: up to date (${dir}, llama.cpp build ${manifest.llama_cpp.build})`);
      return { dir, manifest, built: false };
    }
  }
  for await (const entry of Deno.readDir(distDir)) {
    // Staging folders of a run that was killed.
    if (entry.name.startsWith(`.${target}.tmp-`)) {
      await Deno.remove(join(distDir, entry.name), { recursive: true });
    }
  }

  const { arch, triplet, machine } = DEBIAN_TARGETS[target];
  const archive = new DebianArchive({
    mirror: options.mirror ?? parseAptMirror(await Deno.readTextFile(APT_SOURCES)),
    suite: SUITE,
    cacheDir: options.cacheDir ?? defaultCacheDir(),
    offline: options.offline ?? false,
    log,
    ...(options.signal && { signal: options.signal }),
  });
  const release = await archive.release();
  log(`${target}: Debian ${SUITE} of ${release.date}`);
  const packages = await archive.packages(arch);
  const work = await Deno.makeTempDir({ prefix: "edgellm-natives-" });
  const stage = tempSibling(distDir, target);
  try {
    const sysroot = new Sysroot(work);
    const unpack = async (name: string) => {
      const pkg = packages.get(name);
      if (pkg === undefined) throw new Error(`Cannot find package "${name}" in Debian ${SUITE}`);
      await sysroot.add(pkg, await archive.deb(pkg));
      log(`${target}: unpacked ${pkg.name} ${pkg.version}`);
    };
    for (const seed of SEEDS) await unpack(seed);

    const executables = await Promise.all(
      EXECUTABLES.map((name) => required(sysroot, `usr/bin/${name}`)),
    );
    // ggml loads these at run time (dlopen, so no DT_NEEDED names them) and picks the best one
    // for the CPU from the folder of the running executable, which under the loader is lib/.
    const backendDir = `usr/lib/${triplet}/ggml/backends0`;
    const backends = await Promise.all(
      (await sysroot.list(backendDir))
        .filter((name) => /^libggml-cpu-.+\.so$/.test(name))
        .map((name) => required(sysroot, `${backendDir}/${name}`)),
    );
    if (backends.length === 0) throw new Error(`Cannot find CPU backends in "${backendDir}"`);

    const searchDirs = [`usr/lib/${triplet}`, `lib/${triplet}`, "usr/lib", "lib"];
    let owners: Promise<Map<string, string>> | undefined;
    const libraries = await resolveClosure(sysroot, [...executables, ...backends], {
      searchDirs,
      machine,
      async provide(candidates) {
        owners ??= archive.contents(arch, searchDirs);
        const index = await owners;
        const owner = candidates.map((path) => index.get(path)).find((name) => name !== undefined);
        if (owner === undefined || sysroot.packages.some((pkg) => pkg.name === owner)) return false;
        await unpack(owner);
        return true;
      },
    });

    const interpreter = parseElfDynamic(await Deno.readFile(executables[0]!.path)).interpreter;
    if (interpreter === null) throw new Error(`Cannot find the loader of "${EXECUTABLES[0]}"`);
    const layout: [string, SysrootFile][] = [
      ...EXECUTABLES.map((name, i): [string, SysrootFile] => [`bin/${name}`, executables[i]!]),
      ...[...libraries].map(([name, file]): [string, SysrootFile] => [`lib/${name}`, file]),
      ...backends.map((file): [string, SysrootFile] => [`lib/${basename(file.path)}`, file]),
    ];
    const draft = {
      schema_version: MANIFEST_SCHEMA_VERSION,
      target,
      source: {
        distribution: "debian",
        suite: SUITE,
        date: release.date,
        packages: sysroot.packages.map((pkg: DebPackage) => ({
          name: pkg.name,
          version: pkg.version,
          architecture: pkg.architecture,
          sha256: pkg.sha256,
        })),
      },
      loader: `lib/${basename(interpreter)}`,
      library_path: "lib",
      executables: Object.fromEntries(EXECUTABLES.map((name) => [name, `bin/${name}`])),
      files: await stageFiles(stage, layout, options.signal),
    };
    const version = await engineVersion(
      { bundle: { dir: stage, manifest: draft }, executable: "llama-server" },
      options.signal ? { signal: options.signal } : {},
    );
    if (version.build === null) {
      throw new Error(`Cannot find the llama.cpp build number in "version: ${version.version}"`);
    }
    // Parsing what is written proves the manifest matches the schema the run time reads.
    const manifest = parseManifest(JSON.stringify({ ...draft, llama_cpp: version }));
    await Deno.writeTextFile(join(stage, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
    await verifyBundle(stage, manifest);
    await replaceDir(stage, dir);
    const size = manifest.files.reduce((sum, file) => sum + file.size, 0);
    log(
      `${target}: wrote ${dir}: llama.cpp ${version.version} build ${version.build}, ` +
        `${manifest.files.length} files, ${(size / 2 ** 20).toFixed(1)} MiB`,
    );
    return { dir, manifest, built: true };
  } finally {
    await Deno.remove(work, { recursive: true });
    await Deno.remove(stage, { recursive: true }).catch(ignoreNotFound);
  }
}

/** Copies the files into the staging folder, sorted by path, and returns their manifest entries. */
async function stageFiles(
  stage: string,
  layout: [string, SysrootFile][],
  signal?: AbortSignal,
): Promise<Manifest["files"]> {
  await Deno.mkdir(join(stage, "lib"), { recursive: true });
  await Deno.mkdir(join(stage, "bin"), { recursive: true });
  const files: Manifest["files"] = [];
  const sources = new Map<string, string>();
  for (const [path, file] of layout.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    signal?.throwIfAborted();
    const other = sources.get(path);
    if (other !== undefined && other !== file.path) {
      throw new Error(`Cannot lay out "${path}": both "${other}" and "${file.path}" want it`);
    }
    if (other !== undefined) continue;
    sources.set(path, file.path);
    const bytes = await Deno.readFile(file.path);
    const to = join(stage, path);
    await Deno.writeFile(to, bytes);
    // Mode bits from the package: executables and the loader stay executable.
    await Deno.chmod(to, (await Deno.stat(file.path)).mode! & 0o755);
    files.push({
      path,
      size: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      package: file.package.name,
    });
  }
  return files;
}

/** The manifest of `dir` when every file matches it and it is of the current schema, else `null`. */
async function verifiedManifest(dir: string): Promise<Manifest | null> {
  try {
    const manifest = await readManifest(dir);
    await verifyBundle(dir, manifest);
    return manifest;
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound || error instanceof SyntaxError ||
      error instanceof BundleIntegrityError
    ) return null;
    throw error;
  }
}

async function required(sysroot: Sysroot, path: string): Promise<SysrootFile> {
  const file = await sysroot.find(path);
  if (file === null) throw new Error(`Cannot find "${path}" in the unpacked packages`);
  return file;
}

function defaultCacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "edgellm");
  const home = Deno.env.get("HOME");
  if (!home) {
    throw new Error("Cannot find the cache folder: neither XDG_CACHE_HOME nor HOME is set");
  }
  return join(home, ".cache", "edgellm");
}

/** Parses the task's arguments and assembles each requested target. */
async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: "string", default: hostTarget() },
      refresh: { type: "boolean", default: false },
      offline: { type: "boolean", default: false },
    },
  });
  const target = values.target;
  if (target !== "all" && !isTarget(target)) {
    throw new RangeError(
      `Cannot assemble natives: unknown target "${target}"; use one of ${TARGETS.join(", ")}, all`,
    );
  }
  const started = performance.now();
  for (const each of target === "all" ? TARGETS : [target]) {
    await assembleBundle(each, { refresh: values.refresh, offline: values.offline });
  }
  console.log(`natives: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

if (import.meta.main) await main(Deno.args);
