/** Callbacks of {@linkcode observeBody}. */
export interface ObserveBodyOptions {
  /** Called once, with the first chunk, before it is passed on. */
  onFirstChunk?: () => void;
  /**
   * Called exactly once when the body ends for any reason: read to the end, cancelled by the
   * consumer (the client went away), or failed (upstream aborted). `tail` holds at least the
   * last `tailBytes` bytes that passed.
   */
  onEnd: (tail: Uint8Array, error?: unknown) => void;
  /** How many trailing bytes `onEnd` gets. @default {0} */
  tailBytes?: number;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Passes a body through chunk by chunk, untouched, pulling from `body` only when the consumer
 * reads (so backpressure reaches the producer), and reports its first chunk and its end.
 * Cancelling the returned stream cancels `body`.
 */
export function observeBody(
  body: ReadableStream<Uint8Array>,
  options: ObserveBodyOptions,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const tailBytes = options.tailBytes ?? 0;
  const tail: Uint8Array[] = [];
  let tailLength = 0;
  let first = true;
  let ended = false;
  function end(error?: unknown): void {
    if (ended) return;
    ended = true;
    options.onEnd(concat(tail), error);
  }
  function keep(chunk: Uint8Array): void {
    tail.push(chunk);
    tailLength += chunk.length;
    // Drop whole chunks from the front while the rest still covers `tailBytes`.
    while (tail.length > 1 && tailLength - tail[0]!.length >= tailBytes) {
      tailLength -= tail.shift()!.length;
    }
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result;
      try {
        result = await reader.read();
      } catch (error) {
        end(error);
        controller.error(error);
        return;
      }
      if (result.done) {
        end();
        controller.close();
        return;
      }
      if (first) {
        first = false;
        options.onFirstChunk?.();
      }
      if (tailBytes > 0) keep(result.value);
      controller.enqueue(result.value);
    },
    async cancel(reason) {
      end(reason);
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
