import { ignoreNotFound } from "../src/_util/ignore_not_found.ts";
import { posix } from "node:path";
import type { DebPackage } from "./debian_archive.ts";
import { run } from "./_util.ts";

/** A file found in a {@linkcode Sysroot}. */
export interface SysrootFile {
  /** Absolute path of the regular file (symlinks followed). */
  path: string;
  /** Path relative to the sysroot, symlinks followed, e.g. `usr/lib/x86_64-linux-gnu/libz.so.1.3`. */
  relative: string;
  /** The package that ships it. */
  package: DebPackage;
}

/** Symlink chains longer than this are loops (the kernel's limit is the same). */
const MAX_SYMLINKS = 40;

/**
 * The union of unpacked .deb files, like an installed system but with each package in its own
 * folder so every file knows its package. Symlinks resolve inside the union, never on the host.
 */
export class Sysroot {
  readonly #dir: string;
  readonly #packages: DebPackage[] = [];

  /** Uses the (empty) folder `dir`. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The packages unpacked so far, in order. */
  get packages(): readonly DebPackage[] {
    return this.#packages;
  }

  /** Unpacks a package's .deb (with `dpkg-deb -x`). */
  async add(pkg: DebPackage, deb: string): Promise<void> {
    await run("dpkg-deb", ["-x", deb, this.#packageDir(pkg)]);
    this.#packages.push(pkg);
  }

  /** Finds the regular file at `relative` (e.g. `usr/bin/llama-server`), or `null`. */
  async find(relative: string): Promise<SysrootFile | null> {
    let path = posix.normalize(relative);
    for (let hops = 0; hops < MAX_SYMLINKS; hops++) {
      let target: string | undefined;
      for (const pkg of this.#packages) {
        const abs = posix.join(this.#packageDir(pkg), path);
        let info: Deno.FileInfo;
        try {
          info = await Deno.lstat(abs);
        } catch (error) {
          if (error instanceof Deno.errors.NotFound) continue;
          throw error;
        }
        if (info.isFile) return { path: abs, relative: path, package: pkg };
        if (info.isSymlink) {
          target = await Deno.readLink(abs);
          break;
        }
      }
      if (target === undefined) return null;
      path = posix.normalize(
        target.startsWith("/") ? target.slice(1) : posix.join(posix.dirname(path), target),
      );
    }
    throw new Error(`Cannot resolve "${relative}": too many levels of symbolic links`);
  }

  /** Names of the entries of folder `relative` across all packages. */
  async list(relative: string): Promise<string[]> {
    const names = new Set<string>();
    for (const pkg of this.#packages) {
      try {
        for await (const entry of Deno.readDir(posix.join(this.#packageDir(pkg), relative))) {
          names.add(entry.name);
        }
      } catch (error) {
        ignoreNotFound(error);
      }
    }
    return [...names].sort();
  }

  #packageDir(pkg: DebPackage): string {
    return posix.join(this.#dir, pkg.name);
  }
}
