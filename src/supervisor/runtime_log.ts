import { LogRing } from "./log_ring.ts";
import { RotatingLogFile, type RotatingLogFileOptions } from "./rotating_log_file.ts";
import type { LogLine } from "./types.ts";

/** Options for {@linkcode RuntimeLog}. */
export interface RuntimeLogOptions extends RotatingLogFileOptions {
  /** Lines kept in memory for `logs(id, { tail })`. @default {1000} */
  ringLines?: number;
}

/**
 * Everything a runtime's children print: timestamped lines in a size-capped rotating file
 * (`runtimes/<id>/output.log`) and in an in-memory ring that followers read live. The ring
 * keeps every line even while the file cannot be written (see {@linkcode RotatingLogFile}).
 */
export class RuntimeLog {
  /** The in-memory lines and their followers. */
  readonly ring: LogRing;
  readonly #file: RotatingLogFile;

  /** Opens the file at `path` for appending. */
  constructor(path: string, options: RuntimeLogOptions = {}) {
    this.ring = new LogRing(options.ringLines ?? 1000);
    this.#file = new RotatingLogFile(path, options);
  }

  /** Records lines read at `at` from one stream of a child. */
  append(stream: LogLine["stream"], at: string, lines: readonly string[]): void {
    let text = "";
    for (const line of lines) {
      this.ring.push({ at, stream, line });
      text += `${at} ${stream} ${line}\n`;
    }
    this.#file.write(text);
  }

  /** Ends followers and closes the file. */
  close(): void {
    this.ring.close();
    this.#file.close();
  }
}
