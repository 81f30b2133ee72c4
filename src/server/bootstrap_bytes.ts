import { type BootstrapTotals, readStateTotals } from "../../bootstrap/state_file.ts";
import type { Logger } from "../log/mod.ts";

/** Options for {@linkcode bootstrapBytesReader}. */
export interface BootstrapBytesReaderOptions {
  /** Told once when the file becomes unreadable (and not again until it was read). */
  logger?: Logger;
}

const KEYS = ["downloaded_bytes", "imported_bytes"] as const;

/**
 * Reads bootstrap's byte totals from its state file (`state/bootstrap.json`) at each call, for
 * `edgellm_bootstrap_bytes_total`: `edgellm bootstrap` runs as its own process, so the file is
 * the only place `serve` can learn them. The file is small and replaced atomically, so a read
 * at scrape time is cheap and sees whole files. The answer never decreases and never rejects:
 *
 * - a missing file counts as zeros (no bootstrap yet);
 * - an unreadable or corrupt file repeats the last answer (with one warning);
 * - a total lower than the last read (the state folder deleted, the file moved aside by an
 *   older edgellm) is taken as a restart from 0 and added on top of what was already counted,
 *   as Prometheus itself does with counter resets;
 * - concurrent scrapes share one read, so they cannot be applied out of order.
 */
export function bootstrapBytesReader(
  stateFile: string,
  options: BootstrapBytesReaderOptions = {},
): () => Promise<BootstrapTotals> {
  let last: BootstrapTotals = { downloaded_bytes: 0, imported_bytes: 0 };
  const base: BootstrapTotals = { downloaded_bytes: 0, imported_bytes: 0 };
  let failing = false;
  let reading: Promise<BootstrapTotals> | undefined;

  async function read(): Promise<BootstrapTotals> {
    let now: BootstrapTotals;
    try {
      now = await readStateTotals(stateFile);
      failing = false;
    } catch (error) {
      if (!failing) {
        options.logger?.warn(
          "cannot read bootstrap's byte totals; /metrics repeats the last ones",
          {
            path: stateFile,
            error,
          },
        );
      }
      failing = true;
      now = last;
    }
    for (const key of KEYS) if (now[key] < last[key]) base[key] += last[key];
    last = now;
    return {
      downloaded_bytes: base.downloaded_bytes + now.downloaded_bytes,
      imported_bytes: base.imported_bytes + now.imported_bytes,
    };
  }

  return function bootstrapBytes() {
    reading ??= read().finally(() => reading = undefined);
    return reading;
  };
}
