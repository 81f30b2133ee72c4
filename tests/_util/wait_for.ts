/** Options for {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. @default {15000} */
  timeoutMs?: number;
  /** Poll interval. @default {20} */
  intervalMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

/**
 * Polls `probe` until it returns something other than `undefined` or `false`, and returns
 * that; throws when the deadline passes. For waiting on files and processes without sleeps
 * as synchronisation.
 */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitForOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.what ?? "a condition"}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
  }
}
