import assert from "node:assert/strict";
import { backoffDelay } from "../../../src/supervisor/backoff.ts";
import { RestartBudget } from "../../../src/supervisor/restart_budget.ts";

Deno.test("RestartBudget allows max restarts within the window and refills as they age out", () => {
  const budget = new RestartBudget(2, 10_000);
  assert.equal(budget.take(0), true);
  assert.equal(budget.take(1_000), true);
  assert.equal(budget.take(2_000), false);
  assert.equal(budget.used(9_999), 2);
  assert.equal(budget.used(10_000), 1); // the first one has left the window
  assert.equal(budget.take(10_000), true);
  budget.reset();
  assert.equal(budget.used(10_000), 0);
});

Deno.test("RestartBudget with max 0 never allows a restart", () => {
  assert.equal(new RestartBudget(0, 1000).take(0), false);
});

Deno.test("RestartBudget refuses a negative max or an empty window", () => {
  assert.throws(() => new RestartBudget(-1, 1000), RangeError);
  assert.throws(() => new RestartBudget(1, 0), RangeError);
});

Deno.test("backoffDelay doubles per attempt up to the cap", () => {
  const options = { initialMs: 500, maxMs: 3000, random: () => 0 };
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(n, options)), [
    500,
    1000,
    2000,
    3000,
    3000,
  ]);
});

Deno.test("backoffDelay takes off at most the jitter fraction", () => {
  const options = { initialMs: 1000, maxMs: 10_000, jitter: 0.25 };
  assert.equal(backoffDelay(1, { ...options, random: () => 0.999999 }), 750);
  for (let i = 0; i < 100; i++) {
    const delay = backoffDelay(2, options);
    assert.ok(delay >= 1500 && delay <= 2000, String(delay));
  }
  assert.throws(() => backoffDelay(0, options), RangeError);
});
