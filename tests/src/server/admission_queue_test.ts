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
