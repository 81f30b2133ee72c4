import { dirname } from "node:path";

/** Options for {@linkcode RotatingLogFile}. */
export interface RotatingLogFileOptions {
  /** Size at which the file is rotated. @default {5 MiB} */
  maxBytes?: number;
  /** Rotated files kept besides the current one (`x.log.1` … `x.log.N`). @default {3} */
  keep?: number;
}

const encoder = new TextEncoder();

/**
 * An append-only log file that is renamed to `<path>.1` (and older ones shifted up to
 * `<path>.<keep>`, the oldest dropped) when the next write would pass `maxBytes`, so a
 * chatty child never fills the disk. Writes are synchronous: they are small and local, and
 * their order then always matches the order of the lines.
 */
export class RotatingLogFile {
  /** The current file. */
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  #file: Deno.FsFile | undefined;
  #size = 0;

  /** Opens (or creates) `path` for appending; its folder is created if needed. */
  constructor(path: string, options: RotatingLogFileOptions = {}) {
    this.path = path;
    this.#maxBytes = options.maxBytes ?? 5 * 1024 * 1024;
    this.#keep = options.keep ?? 3;
    Deno.mkdirSync(dirname(path), { recursive: true });
    this.#open();
  }

  #open(): void {
    this.#file = Deno.openSync(this.path, { append: true, create: true });
    this.#size = this.#file.statSync().size;
  }

  #rotate(): void {
    this.#file?.close();
    for (let n = this.#keep - 1; n >= 1; n--) {
      try {
        Deno.renameSync(`${this.path}.${n}`, `${this.path}.${n + 1}`);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    if (this.#keep > 0) Deno.renameSync(this.path, `${this.path}.1`);
    else Deno.removeSync(this.path);
    this.#open();
  }

  /** Appends `text`, rotating first if it would not fit. No-op after {@linkcode close}. */
  write(text: string): void {
    if (this.#file === undefined) return;
    const bytes = encoder.encode(text);
    if (this.#size > 0 && this.#size + bytes.length > this.#maxBytes) this.#rotate();
    let written = 0;
    while (written < bytes.length) written += this.#file!.writeSync(bytes.subarray(written));
    this.#size += bytes.length;
  }

  /** Closes the file; idempotent. */
  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}
