/**
 * How many automatic restarts a runtime may make within a sliding window
 * (`restart = { max_restarts, window_s }`). Pure bookkeeping: the caller passes the time.
 *
 * @example
 * ```ts
 * const budget = new RestartBudget(2, 60_000);
 * budget.take(0); // true
 * budget.take(1); // true
 * budget.take(2); // false: spent, the runtime goes to "failed"
 * ```
 */
export class RestartBudget {
  /** Restarts allowed within the window. */
  readonly max: number;
  /** Length of the sliding window in milliseconds. */
  readonly windowMs: number;
  #times: number[] = [];

  /** @throws {RangeError} for a negative `max` or a window that is not positive. */
  constructor(max: number, windowMs: number) {
    if (!Number.isInteger(max) || max < 0) {
      throw new RangeError(
        `Cannot create a restart budget: max "${max}" is not a whole number >= 0`,
      );
    }
    if (!(windowMs > 0)) {
      throw new RangeError(
        `Cannot create a restart budget: window "${windowMs}" ms is not positive`,
      );
    }
    this.max = max;
    this.windowMs = windowMs;
  }

  /** Restarts made within the window ending at `now`. */
  used(now: number): number {
    this.#times = this.#times.filter((t) => now - t < this.windowMs);
    return this.#times.length;
  }

  /** Records a restart at `now` if the budget allows one; `false` when it is spent. */
  take(now: number): boolean {
    if (this.used(now) >= this.max) return false;
    this.#times.push(now);
    return true;
  }

  /** Forgets every restart, e.g. after a manual start. */
  reset(): void {
    this.#times = [];
  }
}
