import { posix } from "node:path";
import { parseElfDynamic } from "./elf_dynamic.ts";
import type { Sysroot, SysrootFile } from "./sysroot.ts";

/** Options for {@linkcode resolveClosure}. */
export interface ResolveClosureOptions {
  /** Folders (relative to the sysroot) the loader searches after an object's RUNPATH. */
  searchDirs: readonly string[];
  /** ELF `e_machine` every object must have. */
  machine: number;
  /**
   * Called with the paths where a missing library could be (one per search folder); unpacks
   * the package that ships one of them into the sysroot and returns `true`, or returns
   * `false` when no package does.
   */
  provide(candidates: readonly string[]): Promise<boolean>;
}

/**
 * Finds every shared library that `roots` need at run time, following `DT_NEEDED` entries
 * (and each executable's `PT_INTERP` loader) the way the dynamic loader does: RUNPATH first,
 * then the search folders. A name is resolved once, as the loader reuses a library already
 * loaded under that name. Missing libraries are asked of `options.provide`.
 *
 * @returns library name as needed (e.g. `libssl.so.3`) → the file it resolves to.
 * @throws {Error} when a library cannot be found or an object is for another machine.
 */
export async function resolveClosure(
  sysroot: Sysroot,
  roots: readonly SysrootFile[],
  options: ResolveClosureOptions,
): Promise<Map<string, SysrootFile>> {
  const libraries = new Map<string, SysrootFile>();
  const queue = [...roots];
  for (let object = queue.shift(); object !== undefined; object = queue.shift()) {
    const elf = parseElfDynamic(await Deno.readFile(object.path));
    const from = `"${object.relative}" (${object.package.name})`;
    if (elf.machine !== options.machine) {
      throw new Error(
        `Cannot use ${from}: its ELF machine is ${elf.machine}, expected ${options.machine}`,
      );
    }
    const origin = posix.dirname(object.relative);
    const dirs = [
      ...elf.runpath.map((dir) =>
        posix.normalize(dir.replace(/\$(ORIGIN|\{ORIGIN\})/g, `/${origin}`)).replace(/^\/+/, "")
      ),
      ...options.searchDirs,
    ];
    const names = elf.interpreter === null
      ? elf.needed
      : [...elf.needed, posix.basename(elf.interpreter)];
    for (const name of names) {
      if (libraries.has(name)) continue;
      const library = await find(sysroot, dirs, name) ??
        (await options.provide(options.searchDirs.map((dir) => `${dir}/${name}`))
          ? await find(sysroot, dirs, name)
          : null);
      if (library === null) {
        throw new Error(
          `Cannot resolve "${name}" needed by ${from}: no package ships it in ${
            dirs.map((dir) => `"${dir}"`).join(", ")
          }`,
        );
      }
      libraries.set(name, library);
      queue.push(library);
    }
  }
  return libraries;
}

async function find(sysroot: Sysroot, dirs: readonly string[], name: string) {
  for (const dir of dirs) {
    const file = await sysroot.find(`${dir}/${name}`);
    if (file !== null) return file;
  }
  return null;
}
