/** Thrown by {@linkcode AdmissionQueue.acquire} when the queue is full. */
export class QueueFullError extends Error {
  /** How many requests may wait. */
  readonly maxQueue: number;

  /** Constructs a new instance. */
  constructor(message: string, maxQueue: number) {
    super(message);
    this.name = "QueueFullError";
    this.maxQueue = maxQueue;
  }
}

/** Options for {@linkcode AdmissionQueue}. */
export interface AdmissionQueueOptions {
  /** Requests that may run at once: the runtime's llama-server slots (`parallel`). */
  slots: number;
  /** Requests that may wait for a slot before new ones are refused (`max_queue`). */
  maxQueue: number;
  /** Named in error messages. @default {"runtime"} */
  name?: string;
}

/** Options for {@linkcode AdmissionQueue.acquire}. */
export interface AcquireOptions {
  /** Aborting it while the request waits removes it from the queue and rejects. */
  signal?: AbortSignal;
}

/** Gives back a slot; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  resolve: (release: Release) => void;
}

function checkLimits(limits: Pick<AdmissionQueueOptions, "slots" | "maxQueue">): void {
  if (!Number.isInteger(limits.slots) || limits.slots < 1) {
    throw new RangeError(
      `Cannot size the queue: slots must be an integer >= 1, got ${limits.slots}; pass parallel >= 1`,
    );
  }
  if (!Number.isInteger(limits.maxQueue) || limits.maxQueue < 0) {
    throw new RangeError(
      `Cannot size the queue: maxQueue must be an integer >= 0, got ${limits.maxQueue}; pass max_queue >= 0`,
    );
  }
}

/**
 * The admission queue in front of one runtime: at most `slots` requests run, at most
 * `maxQueue` wait in arrival order, and the rest are refused. Waiting here rather than in
 * llama-server lets a request that waited too long or whose client left go without ever
 * reaching the server.
 *
 * All state changes are synchronous, so the queue is safe to share between requests.
 *
 * @example
 * ```ts
 * const queue = new AdmissionQueue({ slots: 2, maxQueue: 64 });
 * const release = await queue.acquire({ signal: request.signal });
 * try {
 *   // talk to llama-server
 * } finally {
 *   release();
 * }
 * ```
 */
export class AdmissionQueue {
  #slots: number;
  #maxQueue: number;
  readonly #name: string;
  #active = 0;
  readonly #waiters: Waiter[] = [];

  /** Constructs a new instance. @throws {RangeError} when `slots` < 1 or `maxQueue` < 0. */
  constructor(options: AdmissionQueueOptions) {
    checkLimits(options);
    this.#slots = options.slots;
    this.#maxQueue = options.maxQueue;
    this.#name = options.name ?? "runtime";
  }

  /**
   * Applies new limits (a reload changed `parallel` or `max_queue`) without losing anyone:
   * more slots admit waiters at once, in order; fewer slots take effect as running requests
   * end; a smaller queue refuses newcomers until the waiters already in it are under the
   * new limit.
   *
   * @throws {RangeError} when `slots` < 1 or `maxQueue` < 0.
   */
  resize(limits: Pick<AdmissionQueueOptions, "slots" | "maxQueue">): void {
    checkLimits(limits);
    this.#slots = limits.slots;
    this.#maxQueue = limits.maxQueue;
    while (this.#active < this.#slots && this.#waiters.length > 0) {
      this.#active++;
      this.#waiters.shift()!.resolve(this.#releaser());
    }
  }

  /** Requests holding a slot. */
  get active(): number {
    return this.#active;
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Resolves with a {@linkcode Release} once the request holds a slot: at once when one is
   * free, else when an earlier request releases its own.
   *
   * @throws {QueueFullError} (as a rejection) when `maxQueue` requests already wait.
   * @throws the signal's reason (as a rejection) when it aborts before a slot is free.
   */
  acquire(options: AcquireOptions = {}): Promise<Release> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#active < this.#slots) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiters.length >= this.#maxQueue) {
      return Promise.reject(
        new QueueFullError(
          `Cannot queue the request: ${this.#maxQueue} requests already wait for "${this.#name}"; retry later`,
          this.#maxQueue,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // After a resize to fewer slots, the slot goes away rather than to the next waiter.
      const next = this.#active <= this.#slots ? this.#waiters.shift() : undefined;
      // The slot passes straight to the next waiter, so `active` never dips and a newcomer
      // cannot overtake someone who waited.
      if (next) next.resolve(this.#releaser());
      else this.#active--;
    };
  }
}
