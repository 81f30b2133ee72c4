import { dirname, resolve } from "node:path";

/** Paths outside the home that a command line names, with the access they need. */
export interface ArgumentPaths {
  /** `--from DIR` (an offline source to import). */
  readPaths: string[];
  /** `--out DIR|FILE.tar` (a bundle export; for a tar, its folder, which holds the temp file). */
  writePaths: string[];
}

function valuesOf(args: readonly string[], name: string): string[] {
  const values: string[] = [];
  args.forEach((arg, i) => {
    if (arg === name && args[i + 1] !== undefined) values.push(args[i + 1] as string);
    else if (arg.startsWith(`${name}=`)) values.push(arg.slice(name.length + 1));
  });
  return values;
}

/**
 * The paths that `bootstrap --from` and `bundle export --out` need besides the home, so that
 * a checkout run (`deno task edgellm`, the tests) grants exactly them.
 */
export function argumentPaths(args: readonly string[], cwd: string = Deno.cwd()): ArgumentPaths {
  const from = valuesOf(args, "--from").map((path) => resolve(cwd, path));
  const out = valuesOf(args, "--out").map((path) => {
    const absolute = resolve(cwd, path);
    return absolute.endsWith(".tar") ? dirname(absolute) : absolute;
  });
  return { readPaths: [...from, ...out], writePaths: out };
}
