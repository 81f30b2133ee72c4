import type { Logger } from "../src/log/mod.ts";
import { formatBytes } from "./_util.ts";

/** Receives the progress of downloads and imports. Every method is synchronous. */
export interface Progress {
  /** A file starts (or restarts from `done`) with `size` bytes in all. */
  start(file: { repo: string; path: string; size: number; done: number }): void;
  /** `bytes` more arrived. */
  advance(bytes: number): void;
  /** The current file is complete (`ok`) or abandoned. */
  finish(ok: boolean): void;
}

/** Options for {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Draw a bar on the terminal (else log lines). @default {Deno.stderr.isTerminal()} */
  tty?: boolean;
  /** Where log lines go when not on a TTY. */
  logger: Logger;
  /** Least time between two log lines, or two redraws of the bar. @default {tty ? 200 : 5000} */
  intervalMs?: number;
  /** Writes bar text (no newline). @default {a synchronous write to stderr} */
  write?: (text: string) => void;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

const encoder = new TextEncoder();

function writeStderr(text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/**
 * Progress for people and for logs: on a TTY a bar with bytes, rate and ETA redrawn in place;
 * elsewhere a structured `download progress` log line every few seconds (and at each file's
 * start and end), so cron logs show that a long download is alive.
 */
export function createProgress(options: ProgressOptions): Progress {
  const tty = options.tty ?? Deno.stderr.isTerminal();
  const interval = options.intervalMs ?? (tty ? 200 : 5000);
  const write = options.write ?? writeStderr;
  const now = options.now ?? Date.now;
  let file: { repo: string; path: string; size: number; done: number } | undefined;
  let startedAt = 0;
  let startDone = 0;
  let lastReport = 0;

  function numbers() {
    const current = file as NonNullable<typeof file>;
    const seconds = Math.max(0.001, (now() - startedAt) / 1000);
    const rate = (current.done - startDone) / seconds;
    const eta = rate > 0 ? (current.size - current.done) / rate : Infinity;
    return { current, rate, eta };
  }

  function report(final: boolean): void {
    if (!file) return;
    const { current, rate, eta } = numbers();
    if (tty) {
      const fraction = current.size === 0 ? 1 : current.done / current.size;
      const width = 24;
      const filled = Math.round(fraction * width);
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      const name = current.path.length > 32 ? `…${current.path.slice(-31)}` : current.path;
      write(
        `\r\x1b[2K${name} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ` +
          `${formatBytes(current.done)}/${formatBytes(current.size)} ` +
          `${formatBytes(rate)}/s ETA ${formatDuration(eta)}${final ? "\n" : ""}`,
      );
      return;
    }
    options.logger.info(final ? "download finished" : "download progress", {
      repo: current.repo,
      file: current.path,
      bytes: current.done,
      total: current.size,
      rate_bps: Math.round(rate),
      ...(final ? {} : { eta_s: Number.isFinite(eta) ? Math.round(eta) : null }),
    });
  }

  return {
    start(next) {
      file = { ...next };
      startedAt = now();
      startDone = next.done;
      lastReport = startedAt;
      if (!tty) {
        options.logger.info("download started", {
          repo: next.repo,
          file: next.path,
          total: next.size,
          resume_from: next.done,
        });
      } else report(false);
    },
    advance(bytes) {
      if (!file) return;
      file.done += bytes;
      if (now() - lastReport >= interval) {
        lastReport = now();
        report(false);
      }
    },
    finish(ok) {
      if (tty || ok) report(true);
      file = undefined;
    },
  };
}
