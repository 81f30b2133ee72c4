import { ignoreNotFound } from "../_util/ignore_not_found.ts";
import { dirname } from "node:path";
import type { Logger } from "../log/mod.ts";

/** Options for {@linkcode RotatingLogFile}. */
export interface RotatingLogFileOptions {
  /** Size at which the file is rotated. @default {5 MiB} */
  maxBytes?: number;
  /** Rotated files kept besides the current one (`x.log.1` … `x.log.N`). @default {3} */
  keep?: number;
  /** Told once when writing starts failing (full disk, unwritable file) and when it recovers. */
  logger?: Logger | undefined;
}

const encoder = new TextEncoder();

/**
 * An append-only log file that is renamed to `<path>.1` (and older ones shifted up to
 * `<path>.<keep>`, the oldest dropped) when the next write would pass `maxBytes`, so a
 * chatty child never fills the disk. Writes are synchronous: they are small and local, and
 * their order then always matches the order of the lines.
 *
 * Writing never throws: a log must not take down what it records. While the file cannot be
 * opened or written (a full disk is common on edge devices), lines are dropped with one
 * warning, and every later write tries again; the first that succeeds says so.
 */
export class RotatingLogFile {
  /** The current file. */
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #logger: Logger | undefined;
  #file: Deno.FsFile | undefined;
  #size = 0;
  #closed = false;
  /** Lines dropped since writing last failed; `undefined` while writing works. */
  #dropped: number | undefined;

  /** Opens (or creates) `path` for appending, its folder too; failing that, see the class. */
  constructor(path: string, options: RotatingLogFileOptions = {}) {
    this.path = path;
    this.#maxBytes = options.maxBytes ?? 5 * 1024 * 1024;
    this.#keep = options.keep ?? 3;
    this.#logger = options.logger;
    this.#attempt(() => {
      Deno.mkdirSync(dirname(path), { recursive: true });
      this.#open();
    });
  }

  #open(): void {
    this.#file = Deno.openSync(this.path, { append: true, create: true });
    this.#size = this.#file.statSync().size;
  }

  #rotate(): void {
    this.#file?.close();
    this.#file = undefined;
    for (let n = this.#keep - 1; n >= 1; n--) {
      try {
        Deno.renameSync(`${this.path}.${n}`, `${this.path}.${n + 1}`);
      } catch (error) {
        ignoreNotFound(error);
      }
    }
    if (this.#keep > 0) Deno.renameSync(this.path, `${this.path}.1`);
    else Deno.removeSync(this.path);
    this.#open();
  }

  /** Runs a file operation; a failure is reported once and leaves the file to reopen later. */
  #attempt(operation: () => void): boolean {
    try {
      operation();
    } catch (error) {
      this.#file?.close();
      this.#file = undefined;
      if (this.#dropped === undefined) {
        this.#dropped = 0;
        this.#logger?.warn("cannot write a log file; its lines are kept in memory only", {
          path: this.path,
          error,
        });
      }
      return false;
    }
    if (this.#dropped !== undefined) {
      this.#logger?.info("writing a log file again", {
        path: this.path,
        dropped_writes: this.#dropped,
      });
      this.#dropped = undefined;
    }
    return true;
  }

  /** Appends `text`, rotating first if it would not fit. No-op after {@linkcode close}; never throws. */
  write(text: string): void {
    if (this.#closed) return;
    const bytes = encoder.encode(text);
    const written = this.#attempt(() => {
      if (this.#file === undefined) this.#open();
      if (this.#size > 0 && this.#size + bytes.length > this.#maxBytes) this.#rotate();
      let offset = 0;
      while (offset < bytes.length) offset += this.#file!.writeSync(bytes.subarray(offset));
      this.#size += bytes.length;
    });
    if (!written) this.#dropped!++;
  }

  /** Closes the file; idempotent. */
  close(): void {
    this.#closed = true;
    this.#file?.close();
    this.#file = undefined;
  }
}
