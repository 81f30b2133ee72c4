/** The scheduling decisions alone: synchronous, no processes, no time. */
import assert from "node:assert/strict";
import { Scheduler, type Task } from "../../../src/supervisor/scheduler.ts";

function task(id: string, fields: Partial<Task> = {}): Task {
  return { id, backend: "default", priority: 0, resources: {}, ...fields };
}

function ids(tasks: readonly Task[]): string[] {
  return tasks.map((t) => t.id);
}

/** Runs everything queued one slot at a time and returns the start order. */
function drain(scheduler: Scheduler): string[] {
  const order: string[] = [];
  for (let started = scheduler.take(); started.length > 0; started = scheduler.take()) {
    for (const t of started) {
      order.push(t.id);
      scheduler.finish(t.id);
    }
  }
  return order;
}

Deno.test("Scheduler never starts more than the concurrency bound", () => {
  const scheduler = new Scheduler({ policy: "weighted-fair", concurrency: 2 });
  for (let n = 0; n < 5; n++) scheduler.enqueue(task(`t${n}`));
  assert.deepEqual(ids(scheduler.take()), ["t0", "t1"]);
  assert.deepEqual(scheduler.take(), []);
  scheduler.finish("t0");
  assert.deepEqual(ids(scheduler.take()), ["t2"]);
  assert.equal(scheduler.running.length, 2);
});

Deno.test("Scheduler under priority starts the lowest value first, ties in arrival order", () => {
  const scheduler = new Scheduler({ policy: "priority", concurrency: 1 });
  scheduler.enqueue(task("low", { priority: 10 }));
  scheduler.enqueue(task("urgent", { priority: -5 }));
  scheduler.enqueue(task("normal-1", { priority: 0 }));
  scheduler.enqueue(task("normal-2", { priority: 0 }));
  assert.deepEqual(drain(scheduler), ["urgent", "normal-1", "normal-2", "low"]);
});

Deno.test("Scheduler under weighted-fair shares starts by weight within one task", () => {
  const scheduler = new Scheduler({
    policy: "weighted-fair",
    concurrency: 1,
    weights: { a: 3, b: 1 },
  });
  for (let n = 0; n < 60; n++) {
    scheduler.enqueue(task(`a${n}`, { backend: "a" }));
    scheduler.enqueue(task(`b${n}`, { backend: "b" }));
  }
  const order = drain(scheduler);
  // Within every prefix of the order, each backend's share stays within one task of its weight.
  for (let k = 1; k <= 80; k++) {
    const a = order.slice(0, k).filter((id) => id.startsWith("a")).length;
    assert.ok(Math.abs(a - k * 3 / 4) <= 1, `after ${k} starts, a had ${a}`);
  }
  // Within a backend, arrival order.
  const a = order.filter((id) => id.startsWith("a"));
  assert.deepEqual(a.slice(0, 3), ["a0", "a1", "a2"]);
});

Deno.test("Scheduler under weighted-fair gives an idle backend no burst when it returns", () => {
  const scheduler = new Scheduler({ policy: "weighted-fair", concurrency: 1 });
  for (let n = 0; n < 10; n++) scheduler.enqueue(task(`a${n}`, { backend: "a" }));
  const early = [];
  for (let n = 0; n < 6; n++) {
    const [t] = scheduler.take();
    early.push(t!.id);
    scheduler.finish(t!.id);
  }
  for (let n = 0; n < 10; n++) scheduler.enqueue(task(`b${n}`, { backend: "b" }));
  const rest = drain(scheduler);
  // From here on they alternate: b does not get six starts in a row to "catch up".
  assert.deepEqual(rest.slice(0, 6).map((id) => id[0]), ["b", "a", "b", "a", "b", "a"]);
});

Deno.test("Scheduler under resource-aware waits until the pool can satisfy a reservation", () => {
  const scheduler = new Scheduler({ policy: "resource-aware", concurrency: 10, pools: { cpu: 4 } });
  scheduler.enqueue(task("big", { resources: { cpu: 3 } }));
  scheduler.enqueue(task("huge", { resources: { cpu: 4 } }));
  scheduler.enqueue(task("small", { resources: { cpu: 1 } }));
  // big fits; huge does not (1 left) and waits; small fits and overtakes it.
  assert.deepEqual(ids(scheduler.take()), ["big", "small"]);
  assert.deepEqual(scheduler.available(), { cpu: 0 });
  scheduler.finish("small");
  assert.deepEqual(scheduler.take(), []);
  scheduler.finish("big"); // released whatever the outcome was
  assert.deepEqual(ids(scheduler.take()), ["huge"]);
  assert.deepEqual(scheduler.available(), { cpu: 0 });
  scheduler.finish("huge");
  assert.deepEqual(scheduler.available(), { cpu: 4 });
});

Deno.test("Scheduler under priority holds the head until its reservation fits", () => {
  const scheduler = new Scheduler({ policy: "priority", concurrency: 10, pools: { cpu: 2 } });
  scheduler.enqueue(task("running", { resources: { cpu: 1 } }));
  assert.deepEqual(ids(scheduler.take()), ["running"]);
  scheduler.enqueue(task("first", { priority: 0, resources: { cpu: 2 } }));
  scheduler.enqueue(task("second", { priority: 1, resources: { cpu: 1 } }));
  assert.deepEqual(scheduler.take(), []); // "second" would fit but must not overtake
  scheduler.finish("running");
  assert.deepEqual(ids(scheduler.take()), ["first"]);
});

Deno.test("Scheduler refuses reservations that could never be satisfied", () => {
  const scheduler = new Scheduler({ policy: "resource-aware", concurrency: 1, pools: { cpu: 4 } });
  assert.throws(() => scheduler.enqueue(task("x", { resources: { gpu: 1 } })), /pool "gpu"/);
  assert.throws(() => scheduler.enqueue(task("y", { resources: { cpu: 5 } })), /holds only 4/);
  scheduler.enqueue(task("z"));
  assert.throws(() => scheduler.enqueue(task("z")), /already in use/);
});

Deno.test("Scheduler.remove drops a queued task, and reconfigure applies to later decisions", () => {
  const scheduler = new Scheduler({ policy: "priority", concurrency: 1 });
  scheduler.enqueue(task("a"));
  scheduler.enqueue(task("b"));
  scheduler.enqueue(task("c"));
  assert.equal(scheduler.remove("b"), true);
  assert.equal(scheduler.remove("b"), false);
  assert.deepEqual(ids(scheduler.take()), ["a"]);
  scheduler.reconfigure({ policy: "priority", concurrency: 2 });
  assert.deepEqual(ids(scheduler.take()), ["c"]);
  assert.throws(() => scheduler.reconfigure({ policy: "priority", concurrency: 0 }), RangeError);
});
