import { join } from "node:path";
import { assembleBundle } from "../../native/mod.ts";
import {
  type ExecLine,
  execLine,
  hostTarget,
  MANIFEST_FILE,
  readManifest,
  type Target,
} from "../../src/natives/mod.ts";

const built = new Map<Target, Promise<string>>();

/**
 * Returns `native/dist/<target>`, assembling it first through the same code as
 * `deno task natives` (a no-op without network when it is already there and verifies; the
 * first run downloads ~50 MB into `~/.cache/edgellm`).
 */
export function ensureBundle(target: Target): Promise<string> {
  let dir = built.get(target);
  if (dir === undefined) {
    dir = assembleBundle(target, { log: () => {} }).then((result) => result.dir);
    built.set(target, dir);
  }
  return dir;
}

/**
 * How to run a tool of a bundle (e.g. "llama-server"): spawn `command` with
 * `[...args, ...toolArgs]` and `clearEnv: true`. Assembles the bundle first if needed.
 */
export async function bundledTool(name: string, target: Target = hostTarget()): Promise<ExecLine> {
  const dir = await ensureBundle(target);
  return execLine({ bundle: { dir, manifest: await readManifest(dir) }, executable: name });
}

/** Copies a bundle (the files its manifest lists, and the manifest) into `to`. */
export async function copyBundle(from: string, to: string): Promise<void> {
  const manifest = await readManifest(from);
  for (const path of [MANIFEST_FILE, ...manifest.files.map((file) => file.path)]) {
    await Deno.mkdir(join(to, path, ".."), { recursive: true });
    await Deno.copyFile(join(from, path), join(to, path));
  }
}

/** Flips one byte in the middle of a file. */
export async function corrupt(path: string): Promise<void> {
  const bytes = await Deno.readFile(path);
  const at = bytes.length >> 1;
  bytes[at] = bytes[at]! ^ 0xff;
  await Deno.writeFile(path, bytes);
}
