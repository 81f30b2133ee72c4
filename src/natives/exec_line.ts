import { isAbsolute, join } from "node:path";
import { existsSync } from "../_util/exists.ts";
import type { Manifest } from "./manifest.ts";
import { hostTarget, type Target, targetArch } from "./target.ts";

/** A program and its arguments, ready for `new Deno.Command(command, { args, clearEnv: true })`. */
export interface ExecLine {
  /** Absolute path of the program to spawn; grant exactly this path to `--allow-run`. */
  command: string;
  /** Arguments to pass as they are (for a bundle: the loader's, then the program's). */
  args: string[];
}

/** A bundle folder and the parts of its manifest that running it needs. */
export interface BundleLayout {
  /** Absolute folder holding the bundle. */
  dir: string;
  /** Where the loader, libraries and executables are inside `dir`, and for which target. */
  manifest: Pick<Manifest, "target" | "loader" | "library_path" | "executables">;
}

/**
 * What to run: an executable of a bundle (by name, e.g. `llama-server`), or a user's own build
 * (`engine_path` in the config, e.g. bitnet.cpp's `llama-server`).
 */
export type Engine =
  | { bundle: BundleLayout; executable: string }
  | { enginePath: string };

/** Options for {@linkcode execLine}. */
export interface ExecLineOptions {
  /**
   * Target of this machine; a bundle of another architecture runs under an emulator.
   * @default hostTarget()
   */
  host?: Target;
}

/**
 * Builds the command line that runs `engine` with `args`.
 *
 * A bundle executable runs through the bundle's own loader with `--library-path` as an
 * argument, so the child needs no `LD_*` variable (which a scoped `--allow-run` refuses);
 * spawn it with `clearEnv: true`. An `enginePath` runs as it is.
 *
 * @example
 * ```ts
 * const { command, args } = execLine({ bundle, executable: "llama-server" }, ["--version"]);
 * await new Deno.Command(command, { args, clearEnv: true }).output();
 * ```
 * A bundle of another architecture (an aarch64 bundle on x86_64, in tests) runs under qemu
 * when it is installed.
 *
 * @throws {TypeError} when a path is not absolute or the bundle lacks the executable.
 */
export function execLine(
  engine: Engine,
  args: readonly string[] = [],
  options: ExecLineOptions = {},
): ExecLine {
  if ("enginePath" in engine) {
    if (!isAbsolute(engine.enginePath)) {
      throw new TypeError(
        `Cannot run engine '${engine.enginePath}': engine_path must be an absolute path`,
      );
    }
    return { command: engine.enginePath, args: [...args] };
  }
  const { dir, manifest } = engine.bundle;
  if (!isAbsolute(dir)) {
    throw new TypeError(`Cannot run bundle '${dir}': the bundle folder must be an absolute path`);
  }
  const executable = manifest.executables[engine.executable];
  if (executable === undefined) {
    throw new TypeError(
      `Cannot run "${engine.executable}": the bundle has no such executable; it has ${
        Object.keys(manifest.executables).map((name) => `"${name}"`).join(", ")
      }`,
    );
  }
  const line = [
    join(dir, manifest.loader),
    "--library-path",
    join(dir, manifest.library_path),
    join(dir, executable),
    ...args,
  ];
  const emulator = emulatorFor(manifest.target, options.host ?? hostTarget());
  const [command, ...rest] = emulator === null ? line : [emulator, ...line];
  return { command: command!, args: rest };
}

/** Where Debian's qemu-user(-static) put their emulators. */
const QEMU_DIR = "/usr/bin";

/**
 * Returns the emulator that runs `target` binaries on `host`: `null` for the same
 * architecture, else qemu from qemu-user-static or qemu-user. Without qemu, `null` too: the
 * kernel may still run them through binfmt_misc (whose registrations under /proc need more
 * permissions to read than edgellm has), and the spawn reports it if not.
 */
function emulatorFor(target: Target, host: Target): string | null {
  const arch = targetArch(target);
  if (arch === targetArch(host)) return null;
  const candidates = [`qemu-${arch}-static`, `qemu-${arch}`].map((name) => join(QEMU_DIR, name));
  return candidates.find((path) => existsSync(path)) ?? null;
}
