/**
 * `jobs.policy`: `weighted-fair` shares the slots across backends by weight, `priority` runs
 * the lowest value first, `resource-aware` runs, in arrival order, whatever fits the pools.
 */
export type SchedulingPolicy = "weighted-fair" | "priority" | "resource-aware";

/** What the scheduler knows of a job. */
export interface Task {
  readonly id: string;
  /** The weighted-fair share it counts against. */
  readonly backend: string;
  /** Lower first under `priority`. */
  readonly priority: number;
  /** Amounts reserved from the pools while it runs. */
  readonly resources: Readonly<Record<string, number>>;
}

/** Options for {@linkcode Scheduler}. */
export interface SchedulerOptions {
  readonly policy: SchedulingPolicy;
  /** Tasks that may run at once. */
  readonly concurrency: number;
  /** Weights of backends under `weighted-fair`; unnamed ones weigh 1. @default {{}} */
  readonly weights?: Readonly<Record<string, number>>;
  /** Pool capacities, e.g. `{ cpu: 4 }`. @default {{}} */
  readonly pools?: Readonly<Record<string, number>>;
}

interface Queued {
  readonly task: Task;
  /** Arrival order. */
  readonly seq: number;
}

/**
 * Decides which queued tasks start; pure bookkeeping without I/O or time, so every policy is
 * tested synchronously. The caller starts what {@linkcode Scheduler.take} returns and calls
 * {@linkcode Scheduler.finish} when each ends, whatever the outcome, which releases its slot
 * and its reservations.
 *
 * Every policy honours the concurrency bound and the pools: a task never starts unless its
 * reservation fits. Under `weighted-fair` and `priority` the chosen task waits at the head
 * until it fits (nothing overtakes it, so it cannot starve); under `resource-aware` a task
 * that fits may overtake one that does not.
 *
 * `weighted-fair` is stride scheduling: each backend has a "pass" that grows by 1/weight per
 * task it starts, and the backend with the lowest pass goes next; a backend that becomes
 * active joins at the current pass, so idling earns it no burst later.
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler({ policy: "priority", concurrency: 1 });
 * scheduler.enqueue({ id: "a", backend: "x", priority: 5, resources: {} });
 * scheduler.enqueue({ id: "b", backend: "x", priority: 1, resources: {} });
 * scheduler.take(); // [b]
 * ```
 */
export class Scheduler {
  #options: SchedulerOptions;
  #queue: Queued[] = [];
  #running = new Map<string, Task>();
  #pass = new Map<string, number>();
  #virtualTime = 0;
  #seq = 0;

  /** @throws {RangeError} for a concurrency below 1. */
  constructor(options: SchedulerOptions) {
    this.#options = Scheduler.#check(options);
  }

  static #check(options: SchedulerOptions): SchedulerOptions {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(
        `Cannot schedule jobs: concurrency "${options.concurrency}" is not a whole number >= 1`,
      );
    }
    return options;
  }

  /** Applies new options to later decisions; running tasks keep their reservations. */
  reconfigure(options: SchedulerOptions): void {
    this.#options = Scheduler.#check(options);
  }

  /** Tasks waiting, in arrival order. */
  get queued(): Task[] {
    return this.#queue.map((q) => q.task);
  }

  /** Tasks started and not finished. */
  get running(): Task[] {
    return [...this.#running.values()];
  }

  /** What each pool has left (negative after a reload shrank it below what runs). */
  available(): Record<string, number> {
    const free: Record<string, number> = { ...this.#options.pools };
    for (const task of this.#running.values()) {
      for (const [pool, amount] of Object.entries(task.resources)) {
        free[pool] = (free[pool] ?? 0) - amount;
      }
    }
    return free;
  }

  /**
   * Why a task could never start here, or `undefined` when it can.
   * A reservation from an unknown pool, or larger than the pool, would wait forever.
   */
  refusal(task: Task): string | undefined {
    const pools = this.#options.pools ?? {};
    for (const [pool, amount] of Object.entries(task.resources)) {
      if (!Object.hasOwn(pools, pool)) {
        const known = Object.keys(pools).map((p) => `"${p}"`).join(", ") || "none";
        return `reserves from pool "${pool}", which jobs.resources does not define (defined: ${known})`;
      }
      if (amount > pools[pool]!) {
        return `reserves ${amount} of pool "${pool}", which holds only ${pools[pool]}`;
      }
    }
    return undefined;
  }

  /**
   * Queues a task.
   *
   * @throws {RangeError} when it could never start ({@linkcode Scheduler.refusal}) or its id is
   * already known.
   */
  enqueue(task: Task): void {
    const refusal = this.refusal(task);
    if (refusal !== undefined) throw new RangeError(`Cannot queue job "${task.id}": it ${refusal}`);
    if (this.#running.has(task.id) || this.#queue.some((q) => q.task.id === task.id)) {
      throw new RangeError(`Cannot queue job "${task.id}": the id is already in use`);
    }
    if (!this.#queue.some((q) => q.task.backend === task.backend)) {
      const pass = this.#pass.get(task.backend) ?? this.#virtualTime;
      this.#pass.set(task.backend, Math.max(pass, this.#virtualTime));
    }
    this.#queue.push({ task, seq: this.#seq++ });
  }

  /** Drops a queued task (a cancel before it started); `false` if it is not queued. */
  remove(id: string): boolean {
    const index = this.#queue.findIndex((q) => q.task.id === id);
    if (index < 0) return false;
    this.#queue.splice(index, 1);
    return true;
  }

  /** Ends a running task, releasing its slot and reservations; unknown ids are ignored. */
  finish(id: string): void {
    this.#running.delete(id);
  }

  /** The tasks to start now, in order; they count as running from here on. */
  take(): Task[] {
    const started: Task[] = [];
    while (this.#running.size < this.#options.concurrency) {
      const next = this.#pick();
      if (next === undefined) break;
      this.#queue.splice(this.#queue.indexOf(next), 1);
      this.#running.set(next.task.id, next.task);
      if (this.#options.policy === "weighted-fair") {
        const pass = this.#pass.get(next.task.backend) ?? this.#virtualTime;
        this.#virtualTime = pass;
        this.#pass.set(next.task.backend, pass + 1 / this.#weight(next.task.backend));
      }
      started.push(next.task);
    }
    return started;
  }

  #weight(backend: string): number {
    return this.#options.weights?.[backend] ?? 1;
  }

  #fits(task: Task): boolean {
    const free = this.available();
    return Object.entries(task.resources).every(([pool, amount]) => (free[pool] ?? 0) >= amount);
  }

  #pick(): Queued | undefined {
    if (this.#queue.length === 0) return undefined;
    let chosen: Queued;
    switch (this.#options.policy) {
      case "resource-aware":
        return this.#queue.find((q) => this.#fits(q.task));
      case "priority":
        chosen = this.#queue.reduce((best, q) =>
          q.task.priority < best.task.priority ||
            (q.task.priority === best.task.priority && q.seq < best.seq)
            ? q
            : best
        );
        break;
      case "weighted-fair": {
        // The queue is in arrival order, so the first task seen of each backend is its head.
        const heads = new Map<string, Queued>();
        for (const q of this.#queue) if (!heads.has(q.task.backend)) heads.set(q.task.backend, q);
        chosen = [...heads.values()].reduce((best, q) => {
          const pass = this.#pass.get(q.task.backend) ?? 0;
          const bestPass = this.#pass.get(best.task.backend) ?? 0;
          return pass < bestPass || (pass === bestPass && q.seq < best.seq) ? q : best;
        });
        break;
      }
    }
    return this.#fits(chosen.task) ? chosen : undefined;
  }
}
