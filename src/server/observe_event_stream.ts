/** Options of {@linkcode observeEventStream}. */
export interface ObserveEventStreamOptions {
  /** Called once, with the first chunk, before anything is passed on. */
  onFirstChunk?: () => void;
  /**
   * Called exactly once when the body ends for any reason: read to the end, cancelled by the
   * consumer (the client went away), or failed (upstream aborted). `tail` holds at least the
   * last `tailBytes` bytes read from `body`.
   */
  onEnd: (tail: Uint8Array, error?: unknown) => void;
  /** How many trailing bytes `onEnd` gets. @default {0} */
  tailBytes?: number;
  /**
   * When reading `body` fails, the bytes of one last event that end the stream cleanly
   * instead (e.g. the deadline passed); `undefined` fails the stream with the error.
   * @default {() => undefined}
   */
  lastEvent?: (error: unknown) => Uint8Array | undefined;
  /**
   * Stops reading `body` when it aborts: the body is cancelled and the stream ends as a
   * failed read does (with `lastEvent(reason)` or the reason as its error).
   */
  signal?: AbortSignal;
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

const LF = 0x0a;
const CR = 0x0d;

/** The end of the last complete event in `bytes` (after its blank line), 0 if none ended. */
function eventBoundary(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i > 0; i--) {
    if (bytes[i] !== LF) continue;
    if (bytes[i - 1] === LF) return i + 1;
    if (bytes[i - 1] === CR && bytes[i - 2] === LF) return i + 1;
  }
  return 0;
}

/**
 * The next chunk, or a rejection with `signal`'s reason once it aborts, which cancels the
 * reader (the pending read then settles as done). Deno 2.9.6's fetch does not reliably fail
 * a body read when the request's signal aborts after the headers came, so this does not
 * rely on it.
 */
/** Cancels a body that may have failed already (then nothing is left to stop). */
export function cancelQuietly(
  body: { cancel(reason?: unknown): Promise<void> },
  reason: unknown,
): void {
  body.cancel(reason).catch(() => {
    // It had failed already: its connection is closed either way.
  });
}

function readOrAbort(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (signal === undefined) return reader.read();
  if (signal.aborted) {
    cancelQuietly(reader, signal.reason);
    return Promise.reject(signal.reason);
  }
  const { promise: aborted, reject } = Promise.withResolvers<never>();
  const onAbort = () => {
    reject(signal.reason);
    cancelQuietly(reader, signal.reason);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  return Promise.race([reader.read(), aborted]).finally(() =>
    signal.removeEventListener("abort", onAbort)
  );
}

/**
 * Passes a `text/event-stream` body through, pulling from `body` only when the consumer reads
 * (so backpressure reaches the producer), and reports its first chunk and its end. Bytes go
 * out as they came, but only up to the end of the last complete event: a stream that ends
 * early (`lastEvent`) never leaves a client with half an event. Cancelling the returned
 * stream cancels `body`.
 */
export function observeEventStream(
  body: ReadableStream<Uint8Array>,
  options: ObserveEventStreamOptions,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const tailBytes = options.tailBytes ?? 0;
  const tail: Uint8Array[] = [];
  let tailLength = 0;
  /** Bytes of an event that has not ended yet. */
  let partial: Uint8Array = new Uint8Array();
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
      // Reads until a whole event can go out: a pull that enqueues nothing would stall.
      while (true) {
        let result;
        try {
          result = await readOrAbort(reader, options.signal);
        } catch (error) {
          end(error);
          const last = options.lastEvent?.(error);
          if (last === undefined) {
            controller.error(error);
          } else {
            controller.enqueue(last);
            controller.close();
          }
          return;
        }
        if (result.done) {
          end();
          if (partial.length > 0) controller.enqueue(partial);
          controller.close();
          return;
        }
        if (first) {
          first = false;
          options.onFirstChunk?.();
        }
        if (tailBytes > 0) keep(result.value);
        const bytes = partial.length > 0 ? concat([partial, result.value]) : result.value;
        const boundary = eventBoundary(bytes);
        partial = bytes.slice(boundary);
        if (boundary > 0) {
          // The usual case, one whole event per chunk, passes the chunk itself on.
          controller.enqueue(boundary === bytes.length ? bytes : bytes.subarray(0, boundary));
          return;
        }
      }
    },
    async cancel(reason) {
      end(reason);
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
