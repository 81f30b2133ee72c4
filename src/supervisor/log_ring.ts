import type { LogLine } from "./types.ts";

/** Options for {@linkcode LogRing.follow}. */
export interface FollowOptions {
  /** Ends the iteration when aborted. */
  signal?: AbortSignal;
  /**
   * Lines held for a follower that reads slower than they come; older ones are dropped so a
   * stalled client cannot grow memory. @default {the ring's capacity}
   */
  maxPending?: number;
}

interface Follower {
  push(line: LogLine): void;
  wake(): void;
}

/**
 * The last `capacity` lines of a child's output, in memory, and live followers that receive
 * each new line as it is appended (no polling).
 */
export class LogRing {
  /** How many lines are kept. */
  readonly capacity: number;
  #lines: LogLine[] = [];
  #followers = new Set<Follower>();
  #closed = false;

  /**
   * Creates an empty ring keeping the last `capacity` lines.
   *
   * @throws {RangeError} when `capacity` is not a whole number >= 1.
   */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot create a log ring: capacity "${capacity}" is not >= 1`);
    }
    this.capacity = capacity;
  }

  /** Appends a line and hands it to every follower. */
  push(line: LogLine): void {
    this.#lines.push(line);
    if (this.#lines.length > this.capacity * 2) this.#lines = this.#lines.slice(-this.capacity);
    for (const follower of this.#followers) follower.push(line);
  }

  /** The last `n` lines, oldest first. @default {all kept lines} */
  tail(n: number = this.capacity): LogLine[] {
    const count = Math.max(0, Math.min(n, this.capacity));
    return count === 0 ? [] : this.#lines.slice(-count);
  }

  /**
   * New lines as they are appended, until `signal` aborts or the ring is closed. Lines
   * appended before the call are not included: read {@linkcode LogRing.tail} first.
   */
  follow(options: FollowOptions = {}): AsyncIterableIterator<LogLine> {
    const { signal } = options;
    const maxPending = options.maxPending ?? this.capacity;
    const queue: LogLine[] = [];
    let wakeUp: (() => void) | undefined;
    const follower: Follower = {
      push(line) {
        queue.push(line);
        if (queue.length > maxPending) queue.shift();
        follower.wake();
      },
      wake() {
        wakeUp?.();
        wakeUp = undefined;
      },
    };
    // Registered now, not at the first next(), so no line appended after this call is lost.
    if (!this.#closed) this.#followers.add(follower);
    const onAbort = () => follower.wake();
    signal?.addEventListener("abort", onAbort, { once: true });
    const followers = this.#followers;
    const isClosed = () => this.#closed;
    async function* iterate(): AsyncGenerator<LogLine> {
      try {
        while (!signal?.aborted) {
          const line = queue.shift();
          if (line !== undefined) {
            yield line;
            continue;
          }
          if (isClosed()) return;
          await new Promise<void>((resolve) => wakeUp = resolve);
        }
      } finally {
        followers.delete(follower);
        signal?.removeEventListener("abort", onAbort);
      }
    }
    return iterate();
  }

  /** Ends every follower (after the lines they have not read yet); later follows end at once. */
  close(): void {
    this.#closed = true;
    for (const follower of this.#followers) follower.wake();
    this.#followers.clear();
  }
}
