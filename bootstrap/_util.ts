import { dirname } from "node:path";
import { ignoreNotFound } from "../src/_util/ignore_not_found.ts";
import { LN_PATHS } from "../src/permissions/deno_flags.ts";

/** Whether `error` says that a path does not exist. */
export function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

/** `lstat` that answers `undefined` for a missing path instead of throwing. */
export async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** `stat` (following links) that answers `undefined` for a missing path. */
export async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Removes a file if it exists. */
export async function removeIfExists(path: string): Promise<void> {
  await Deno.remove(path).catch(ignoreNotFound);
}

/** Flushes a directory's entries (a rename or a new link) to disk. */
export async function syncDir(dir: string): Promise<void> {
  using handle = await Deno.open(dir, { read: true });
  await handle.sync();
}

/**
 * Replaces `path` with `data` atomically: a reader sees the old or the new content, never a
 * mix, even after a crash (temp file, fsync, rename, fsync of the folder).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  {
    using file = await Deno.open(temp, { write: true, create: true, truncate: true });
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  }
  await Deno.rename(temp, path);
  await syncDir(dirname(path));
}

/** Collects a repeatable command-line option (commander's argument parser). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** Formats a byte count for people, e.g. `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Joins byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Reads a stream chunk by chunk until it ends; an abort of `signal` cancels it and makes the
 * pending read throw the signal's reason. Needed because an abort of `fetch`'s signal does not
 * reliably reach a response body: the `Request` follows that signal through a dependent signal
 * that may be garbage-collected once the answer is in (measured: SIGINT lost 3 times in 4).
 */
export async function* readChunks(
  stream: ReadableStream<Uint8Array>,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  const onAbort = () => void reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      const next = await reader.read();
      signal.throwIfAborted();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => {}); // the consumer stopped early, or an error
  }
}

/**
 * Creates a symlink at `path` pointing at `target` (kept as given, e.g. relative). Deno allows
 * `Deno.symlink` only with unscoped read and write permissions, which the product does not
 * have; then `ln -s` (granted by exact path) makes the link.
 */
export async function symlink(target: string, path: string): Promise<void> {
  try {
    await Deno.symlink(target, path);
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  for (const ln of LN_PATHS) {
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command(ln, {
        args: ["-s", "--", target, path],
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
    } catch (error) {
      if (isNotFound(error)) continue;
      throw error;
    }
    if (output.success) return;
    const reason = new TextDecoder().decode(output.stderr).trim();
    throw new Error(`Cannot create the link '${path}': ${ln} failed: ${reason}`);
  }
  throw new Error(`Cannot create the link '${path}': no ln at ${LN_PATHS.join(" or ")}`);
}
