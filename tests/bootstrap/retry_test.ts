import assert from "node:assert/strict";
import { HubError, parseRetryAfter, retry } from "../../bootstrap/retry.ts";

const temporary = (retryAfterMs?: number) =>
  new HubError("Cannot download now", {
    temporary: true,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });

Deno.test("retry waits with exponential backoff and jitter, then gives up after maxAttempts", async () => {
  const waits: number[] = [];
  let calls = 0;
  await assert.rejects(
    retry(() => {
      calls++;
      return Promise.reject(temporary());
    }, {
      maxAttempts: 4,
      initialDelayMs: 4,
      maxDelayMs: 10,
      random: () => 1,
      onRetry: (_error, _attempt, delayMs) => waits.push(delayMs),
    }),
    HubError,
  );
  assert.equal(calls, 4);
  assert.deepEqual(waits, [4, 8, 10]);
});

Deno.test("retry jitter keeps each wait between half and all of the backoff", async () => {
  const waits: number[] = [];
  await assert.rejects(retry(() => Promise.reject(temporary()), {
    maxAttempts: 2,
    initialDelayMs: 8,
    random: () => 0,
    onRetry: (_e, _a, delayMs) => waits.push(delayMs),
  }));
  assert.deepEqual(waits, [4]);
});

Deno.test("retry honours Retry-After and gives up at once when it is too long", async () => {
  const waits: number[] = [];
  let calls = 0;
  const value = await retry(() => {
    calls++;
    return calls === 1 ? Promise.reject(temporary(5)) : Promise.resolve("ok");
  }, { onRetry: (_e, _a, delayMs) => waits.push(delayMs) });
  assert.equal(value, "ok");
  assert.deepEqual(waits, [5]);

  calls = 0;
  await assert.rejects(
    retry(() => {
      calls++;
      return Promise.reject(temporary(3_600_000));
    }),
    HubError,
  );
  assert.equal(calls, 1);
});

Deno.test("retry passes permanent errors through and resets its count on progress", async () => {
  let calls = 0;
  await assert.rejects(
    retry(() => {
      calls++;
      return Promise.reject(new HubError("Cannot download: 404", { temporary: false }));
    }),
    /404/,
  );
  assert.equal(calls, 1);

  calls = 0;
  const value = await retry(() => {
    calls++;
    return calls < 8 ? Promise.reject(temporary()) : Promise.resolve(calls);
  }, { maxAttempts: 2, initialDelayMs: 1, madeProgress: () => true });
  assert.equal(value, 8, "each failure made progress, so eight attempts were allowed");
});

Deno.test("parseRetryAfter reads seconds and HTTP dates", () => {
  assert.equal(parseRetryAfter("3"), 3000);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter("soon"), undefined);
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now), 10_000);
});
