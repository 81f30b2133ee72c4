import assert from "node:assert/strict";
import { AdmissionQueue, QueueFullError } from "../../../src/server/admission_queue.ts";

/** Settles pending promise callbacks, so "not yet resolved" can be asserted. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

Deno.test("AdmissionQueue.acquire() admits at once while slots are free", async () => {
  const queue = new AdmissionQueue({ slots: 2, maxQueue: 1 });
  await queue.acquire();
  await queue.acquire();
  assert.equal(queue.active, 2);
  assert.equal(queue.waiting, 0);
});

Deno.test("AdmissionQueue.acquire() hands slots to waiters in arrival order", async () => {
  const queue = new AdmissionQueue({ slots: 1, maxQueue: 2 });
  const first = await queue.acquire();
  const order: string[] = [];
  const a = queue.acquire().then((release) => (order.push("a"), release));
  const b = queue.acquire().then((release) => (order.push("b"), release));
  await settle();
  assert.deepEqual(order, []);
  assert.equal(queue.waiting, 2);
  first();
  (await a)();
  (await b)();
  assert.deepEqual(order, ["a", "b"]);
  assert.equal(queue.active, 0);
  assert.equal(queue.waiting, 0);
});

Deno.test("AdmissionQueue.acquire() rejects with QueueFullError when maxQueue requests wait", async () => {
  const queue = new AdmissionQueue({ slots: 1, maxQueue: 1, name: "chat" });
  const release = await queue.acquire();
  const waiting = queue.acquire();
  await assert.rejects(queue.acquire(), (error: unknown) => {
    assert.ok(error instanceof QueueFullError);
    assert.match(error.message, /1 requests already wait for "chat"/);
    return true;
  });
  release();
  (await waiting)();
});

Deno.test("AdmissionQueue.acquire() refuses at once when maxQueue is 0 and slots are busy", async () => {
  const queue = new AdmissionQueue({ slots: 1, maxQueue: 0 });
  const release = await queue.acquire();
  await assert.rejects(queue.acquire(), QueueFullError);
  release();
  assert.equal(queue.active, 0);
});

Deno.test("AdmissionQueue.acquire() leaves the queue and rejects when its signal aborts", async () => {
  const queue = new AdmissionQueue({ slots: 1, maxQueue: 2 });
  const release = await queue.acquire();
  const controller = new AbortController();
  const gone = queue.acquire({ signal: controller.signal });
  const stays = queue.acquire();
  controller.abort(new Error("client left"));
  await assert.rejects(gone, /client left/);
  assert.equal(queue.waiting, 1);
  release();
  (await stays)();
  assert.equal(queue.active, 0);
});

Deno.test("AdmissionQueue.acquire() rejects with the reason of an already aborted signal", async () => {
  const queue = new AdmissionQueue({ slots: 1, maxQueue: 1 });
  await assert.rejects(queue.acquire({ signal: AbortSignal.abort(new Error("gone")) }), /gone/);
  assert.equal(queue.active, 0);
});

Deno.test("AdmissionQueue release does nothing the second time", async () => {
  const queue = new AdmissionQueue({ slots: 1, maxQueue: 1 });
  const release = await queue.acquire();
  release();
  release();
  assert.equal(queue.active, 0);
  await queue.acquire();
  assert.equal(queue.active, 1);
});

Deno.test("AdmissionQueue constructor throws RangeError for zero slots", () => {
  assert.throws(() => new AdmissionQueue({ slots: 0, maxQueue: 1 }), RangeError);
  assert.throws(() => new AdmissionQueue({ slots: 1, maxQueue: -1 }), RangeError);
});

Deno.test("AdmissionQueue.resize() to more slots admits waiters at once, in arrival order", async () => {
  const queue = new AdmissionQueue({ slots: 1, maxQueue: 3 });
  await queue.acquire();
  const order: string[] = [];
  const a = queue.acquire().then((release) => (order.push("a"), release));
  const b = queue.acquire().then((release) => (order.push("b"), release));
  const c = queue.acquire().then((release) => (order.push("c"), release));
  await settle();
  queue.resize({ slots: 3, maxQueue: 3 });
  await Promise.all([a, b]);
  await settle();
  assert.deepEqual(order, ["a", "b"]);
  assert.equal(queue.active, 3);
  assert.equal(queue.waiting, 1);
  (await a)();
  (await c)();
  assert.deepEqual(order, ["a", "b", "c"]);
});

Deno.test("AdmissionQueue.resize() to fewer slots keeps running requests and admits no one until under the limit", async () => {
  const queue = new AdmissionQueue({ slots: 2, maxQueue: 2 });
  const first = await queue.acquire();
  const second = await queue.acquire();
  let admitted = false;
  const waiter = queue.acquire().then((release) => (admitted = true, release));
  queue.resize({ slots: 1, maxQueue: 2 });
  first();
  await settle();
  assert.equal(admitted, false);
  assert.equal(queue.active, 1);
  second();
  (await waiter)();
  assert.equal(queue.active, 0);
});

Deno.test("AdmissionQueue.resize() to a shorter queue keeps the waiters and refuses newcomers", async () => {
  const queue = new AdmissionQueue({ slots: 1, maxQueue: 2 });
  const release = await queue.acquire();
  const a = queue.acquire();
  const b = queue.acquire();
  queue.resize({ slots: 1, maxQueue: 1 });
  await assert.rejects(queue.acquire(), QueueFullError);
  assert.equal(queue.waiting, 2);
  release();
  (await a)();
  (await b)();
  assert.equal(queue.active, 0);
});

Deno.test("AdmissionQueue.resize() refuses limits it cannot work with", () => {
  const queue = new AdmissionQueue({ slots: 1, maxQueue: 0 });
  assert.throws(() => queue.resize({ slots: 0, maxQueue: 0 }), RangeError);
  assert.throws(() => queue.resize({ slots: 1, maxQueue: -1 }), RangeError);
});
