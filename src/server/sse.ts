/** One server-sent event. */
export interface SseEvent {
  /** `event:` field; clients dispatch on it. */
  event: string;
  /** Serialized as one line of JSON in the `data:` field. */
  data: unknown;
}

const encoder = new TextEncoder();

/** Options for {@linkcode sseResponse}. */
export interface SseResponseOptions {
  /** Ends the stream when it aborts: the client left, or the server shuts down. */
  signal: AbortSignal;
}

/**
 * A `text/event-stream` response that writes each event of `source(signal)` as it comes.
 * `signal` aborts when `options.signal` does or when the consumer cancels the body; the
 * source must end then (see {@linkcode subscription}), since `Deno.serve`'s shutdown waits
 * for every open stream.
 */
export function sseResponse(
  source: (signal: AbortSignal) => AsyncIterable<SseEvent>,
  options: SseResponseOptions,
): Response {
  const cancelled = new AbortController();
  const iterator = source(AbortSignal.any([options.signal, cancelled.signal]))
    [Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const result = await iterator.next();
      if (result.done) {
        controller.close();
        return;
      }
      const { event, data } = result.value;
      controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    },
    async cancel(reason) {
      cancelled.abort(reason);
      await iterator.return?.();
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      // Tells nginx (and alike) in front not to buffer the stream.
      "x-accel-buffering": "no",
    },
  });
}

/** Options for {@linkcode subscription}. */
export interface SubscriptionOptions {
  /** Ends the iteration (and unsubscribes) when it aborts. */
  signal: AbortSignal;
  /**
   * Values that may wait for a slow reader; one more ends the iteration rather than growing
   * memory without bound. @default {1000}
   */
  maxPending?: number;
}

/**
 * Turns a listener API (`subscribe(listener)` returning an unsubscribe function) into an
 * async iterable of the values delivered from this call on, in order, until `signal` aborts.
 * It subscribes at once (not on the first `next()`), so nothing that happens between the
 * call and the first read is lost.
 */
export function subscription<T>(
  subscribe: (listener: (value: T) => void) => () => void,
  options: SubscriptionOptions,
): AsyncGenerator<T> {
  const { signal } = options;
  const maxPending = options.maxPending ?? 1000;
  const pending: T[] = [];
  let overflowed = false;
  let wake: (() => void) | undefined;
  const unsubscribe = subscribe((value) => {
    if (pending.length >= maxPending) overflowed = true;
    else pending.push(value);
    wake?.();
  });
  const onAbort = () => {
    unsubscribe();
    wake?.();
  };
  if (signal.aborted) unsubscribe();
  else signal.addEventListener("abort", onAbort, { once: true });
  async function* iterate(): AsyncGenerator<T> {
    try {
      while (!signal.aborted && !overflowed) {
        const value = pending.shift();
        if (value !== undefined) {
          yield value;
          continue;
        }
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      unsubscribe();
    }
  }
  return iterate();
}
