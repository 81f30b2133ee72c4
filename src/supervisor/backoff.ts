/** Options for {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** Delay before the first restart. */
  initialMs: number;
  /** Upper bound of the delay. */
  maxMs: number;
  /**
   * Fraction of the delay that is randomised away, so that runtimes that crashed together do
   * not restart in lockstep. @default {0.25}
   */
  jitter?: number;
  /** Uniform random number in [0, 1). @default {Math.random} */
  random?: () => number;
}

/**
 * The delay before restart number `attempt` (1 for the first): `initialMs` doubled per
 * attempt, capped at `maxMs`, minus up to `jitter` of itself.
 *
 * @throws {RangeError} when `attempt` is not a whole number >= 1.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(
      `Cannot compute a backoff: attempt "${attempt}" is not a whole number >= 1`,
    );
  }
  const { initialMs, maxMs, jitter = 0.25, random = Math.random } = options;
  const base = Math.min(maxMs, initialMs * 2 ** (attempt - 1));
  return Math.round(base * (1 - jitter * random()));
}
