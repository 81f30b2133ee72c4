import { z } from "zod";
import type { Config } from "../config/mod.ts";
import type { RuntimeSnapshot } from "../supervisor/types.ts";
import { parseJsonBody } from "./_util.ts";
import { AdmissionQueue, QueueFullError, type Release } from "./admission_queue.ts";
import { HttpError, NOT_READY_RETRY_AFTER_S } from "./http_error.ts";
import { cancelQuietly, observeEventStream } from "./observe_event_stream.ts";
import type { RuntimeSupervisor } from "./server_deps.ts";
import type { ServerMetrics } from "./server_metrics.ts";

/** The OpenAI routes that are proxied to llama-server. */
export type InferenceEndpoint = "chat" | "completions" | "embeddings";

/** Paths of the proxied routes, the same on edgellm and llama-server. */
export const INFERENCE_PATHS: Readonly<Record<InferenceEndpoint, string>> = {
  chat: "/v1/chat/completions",
  completions: "/v1/completions",
  embeddings: "/v1/embeddings",
};

const routing = {
  model: z.string().min(1).optional(),
  stream: z.boolean().optional(),
};
const prompt = z.union([z.string(), z.array(z.unknown()).min(1)]);

/**
 * Just enough of each body to route it and to turn away what llama-server could not use;
 * the body itself is forwarded byte for byte.
 */
const BODY_SCHEMAS = {
  chat: z.looseObject({
    ...routing,
    messages: z.array(z.looseObject({ role: z.string() })).min(1),
  }),
  completions: z.looseObject({ ...routing, prompt }),
  embeddings: z.looseObject({ ...routing, input: prompt }),
} as const;

/** Response headers worth passing on; hop-by-hop and length headers are the server's. */
const FORWARDED_HEADERS = ["content-type", "cache-control", "x-accel-buffering"];

/**
 * Enough trailing bytes to hold the last SSE event (or the end of a JSON answer), which
 * carries llama-server's `usage`/`timings`.
 */
const TAIL_BYTES = 4096;

/** Options for {@linkcode InferenceProxy}. */
export interface InferenceProxyOptions {
  /** Knows the runtimes and where their ready llama-servers listen. */
  supervisor: Pick<RuntimeSupervisor, "list" | "upstream" | "subscribe">;
  /**
   * The configuration in use, read for every request, so a reload applies to the next one:
   * each runtime's `parallel` (its llama-server slots; requests beyond wait in the queue),
   * `max_queue` (requests that may wait per runtime) and `request_timeout_s` (the deadline
   * of a whole request, queueing and the answer's body included).
   */
  config: () => Config;
  /** Where the proxy counts its work. */
  metrics: ServerMetrics;
  /** Ends the proxy's subscription to the supervisor's events (the app shuts down). */
  signal?: AbortSignal;
}

/** What {@linkcode InferenceProxy.forward} answers with. */
export interface ProxiedResponse {
  /** The response to send: llama-server's status, body and content headers. */
  response: Response;
  /** Settles when the response body has ended, read to the end or not. */
  done: Promise<void>;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function deadlineMessage(timeoutMs: number): string {
  return `Cannot answer in time: the request passed its deadline of ${
    timeoutMs / 1000
  } s (request_timeout_s); ask for fewer tokens or raise request_timeout_s`;
}

/**
 * The event that ends a stream whose deadline passed after its first bytes went out, in
 * llama-server's own shape for an error in a stream (which OpenAI's SDKs raise).
 */
function deadlineEvent(timeoutMs: number): Uint8Array {
  const error = { code: 504, type: "server_error", message: deadlineMessage(timeoutMs) };
  return encoder.encode(`data: ${JSON.stringify({ error })}\n\n`);
}

function isEventStream(response: Response): boolean {
  return response.headers.get("content-type")?.startsWith("text/event-stream") ?? false;
}

/**
 * Settles like `promise`, or rejects with `signal`'s reason when it aborts first, cancelling
 * `response`'s body. Deno 2.9.6's fetch does not always fail a body being read when its
 * signal aborts after the headers came (measured: a proxied stream ran on to its end), so the
 * deadline does not rely on it.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, response: Response): Promise<T> {
  if (signal.aborted) {
    if (response.body) cancelQuietly(response.body, signal.reason);
    return Promise.reject(signal.reason);
  }
  const { promise: aborted, reject } = Promise.withResolvers<never>();
  const onAbort = () => {
    reject(signal.reason);
    if (response.body) cancelQuietly(response.body, signal.reason);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  return Promise.race([promise, aborted]).finally(() =>
    signal.removeEventListener("abort", onAbort)
  );
}

/** Reads the generated token count from the end of a completion or its last SSE event. */
export function generatedTokens(tail: Uint8Array): number {
  const text = decoder.decode(tail);
  const usage = [...text.matchAll(/"completion_tokens":\s*(\d+)/g)].at(-1);
  const timings = [...text.matchAll(/"predicted_n":\s*(\d+)/g)].at(-1);
  return Number((usage ?? timings)?.[1] ?? 0);
}

/**
 * Proxies OpenAI requests to the llama-server of the runtime their `model` names: validates
 * just enough, waits for a slot in the runtime's {@linkcode AdmissionQueue}, forwards the
 * body untouched and streams the answer back as it comes. The client's signal and the
 * per-request deadline both abort the upstream request, so llama-server stops generating
 * when nobody is waiting for the answer.
 */
export class InferenceProxy {
  readonly #options: InferenceProxyOptions;
  readonly #queues = new Map<string, AdmissionQueue>();

  /** Constructs a new instance. */
  constructor(options: InferenceProxyOptions) {
    this.#options = options;
    // A reload that changes `parallel` restarts the runtime: its state changes resize the
    // queue, so requests waiting there get the new slots without waiting for a newcomer.
    const unsubscribe = options.supervisor.subscribe(({ runtime }) => {
      const queue = this.#queues.get(runtime);
      const config = options.config();
      const parallel = config.runtimes[runtime]?.parallel;
      if (queue && parallel !== undefined) {
        queue.resize({ slots: parallel, maxQueue: config.server.max_queue });
      }
    });
    if (options.signal?.aborted) unsubscribe();
    else options.signal?.addEventListener("abort", unsubscribe, { once: true });
  }

  /** Requests waiting for a slot of `runtime`. */
  queueDepth(runtime: string): number {
    return this.#queues.get(runtime)?.waiting ?? 0;
  }

  /** The runtime's queue, sized by the configuration in use (a reload may have changed it). */
  #queue(runtime: string, config: Config): AdmissionQueue {
    const parallel = config.runtimes[runtime]?.parallel;
    if (parallel === undefined) {
      // Ready a moment ago, but the reload being applied removes it.
      throw new HttpError(
        503,
        "runtime_not_ready",
        `Cannot proxy the request: runtime "${runtime}" is being removed from the configuration; retry later or name another runtime`,
        { headers: { "Retry-After": String(NOT_READY_RETRY_AFTER_S) } },
      );
    }
    const limits = { slots: parallel, maxQueue: config.server.max_queue };
    const queue = this.#queues.get(runtime);
    if (queue) {
      queue.resize(limits);
      return queue;
    }
    const created = new AdmissionQueue({ ...limits, name: runtime });
    this.#queues.set(runtime, created);
    return created;
  }

  /**
   * Picks the runtime for a request's `model`: a runtime id, else a model id (the ready
   * runtime with the shortest queue among those serving it), else the only runtime.
   */
  #route(model: string | undefined): string {
    // The common case, a ready runtime named by id, needs no snapshot of the matrix.
    if (model !== undefined && this.#options.supervisor.upstream(model)) return model;
    const runtimes = this.#options.supervisor.list();
    const ids = runtimes.map((r) => `"${r.id}"`).join(", ") || "none";
    if (model === undefined) {
      if (runtimes.length === 1) return runtimes[0]!.id;
      throw new HttpError(
        400,
        "bad_request",
        `Cannot route the request: it names no "model" and several runtimes serve; set "model" to one of ${ids}`,
      );
    }
    if (runtimes.some((r) => r.id === model)) return model;
    const serving = runtimes.filter((r) => r.model === model);
    if (serving.length === 0) {
      throw new HttpError(
        404,
        "model_not_found",
        `Cannot route the request: no runtime or model is called "${model}"; set "model" to one of the runtimes ${ids}`,
      );
    }
    const rank = (r: RuntimeSnapshot) => (r.state === "ready" ? 0 : 1e9) + this.queueDepth(r.id);
    return serving.reduce((best, r) => (rank(r) < rank(best) ? r : best)).id;
  }

  #upstream(runtime: string): URL {
    const base = this.#options.supervisor.upstream(runtime);
    if (base) return base;
    this.#options.metrics.countRejected(runtime, "not_ready");
    throw new HttpError(
      503,
      "runtime_not_ready",
      `Cannot proxy the request: runtime "${runtime}" is not ready; retry later`,
      { headers: { "Retry-After": String(NOT_READY_RETRY_AFTER_S) } },
    );
  }

  /**
   * Proxies one request to `endpoint`. The request body must already be size-limited.
   *
   * @throws {HttpError} 400 for a body that is not JSON or lacks what the endpoint needs,
   * 404 for an unknown model, 503 when the runtime is not ready.
   * @throws {QueueFullError} when the runtime's queue is full.
   * @throws {DOMException} `TimeoutError` when the deadline passes before the answer's
   * headers could go out (a JSON answer is read whole first), or the request signal's
   * reason when the client leaves. A deadline passing during a stream ends it with an SSE
   * error event instead (see `design.md`).
   */
  async forward(request: Request, endpoint: InferenceEndpoint): Promise<ProxiedResponse> {
    const started = performance.now();
    // The bytes as they came are what llama-server gets: nothing is re-encoded.
    const body = new Uint8Array(await request.arrayBuffer());
    const { model } = BODY_SCHEMAS[endpoint].parse(parseJsonBody(decoder.decode(body)));
    const runtime = this.#route(model);
    // Refuse at once when the runtime is down, rather than after queueing.
    this.#upstream(runtime);

    const { metrics } = this.#options;
    const config = this.#options.config();
    const timeoutMs = config.server.request_timeout_s * 1000;
    // Sized before the deadline starts: a runtime a reload is removing is refused at once.
    const queue = this.#queue(runtime, config);
    // One controller for both reasons to stop: the client left, or the deadline passed.
    const upstreamAbort = new AbortController();
    const { signal } = upstreamAbort;
    const onClientGone = () => upstreamAbort.abort(request.signal.reason);
    request.signal.addEventListener("abort", onClientGone, { once: true });
    if (request.signal.aborted) onClientGone();
    let timedOut = false;
    let release: Release | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      upstreamAbort.abort(new DOMException(deadlineMessage(timeoutMs), "TimeoutError"));
      // llama-server drops the generation with the connection: its slot is free now, even
      // if the client is slow to read the end of the stream.
      release?.();
    }, timeoutMs);
    const finish = (tail: Uint8Array) => {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", onClientGone);
      release?.();
      if (endpoint !== "embeddings") metrics.countTokens(runtime, generatedTokens(tail));
    };
    let upstream: Response;
    let whole: Uint8Array<ArrayBuffer> | undefined;
    try {
      release = await queue.acquire({ signal });
      // The runtime may have gone down while the request waited.
      const base = this.#upstream(runtime);
      upstream = await fetch(new URL(INFERENCE_PATHS[endpoint], base), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal,
      });
      // A JSON answer only exists once generation has ended: reading it here lets it go out
      // in one write with its length, and a deadline passing meanwhile is still a 504.
      if (!isEventStream(upstream)) {
        whole = new Uint8Array(await untilAborted(upstream.arrayBuffer(), signal, upstream));
      }
    } catch (error) {
      finish(new Uint8Array());
      if (error instanceof QueueFullError) metrics.countRejected(runtime, "queue_full");
      if (timedOut) {
        metrics.countRejected(runtime, "timeout");
        throw signal.reason;
      }
      if (error instanceof TypeError && !request.signal.aborted) {
        // fetch failed to connect: the process died between its last health check and now.
        throw new HttpError(
          503,
          "runtime_not_ready",
          `Cannot reach runtime "${runtime}": ${error.message}; retry later`,
          { headers: { "Retry-After": String(NOT_READY_RETRY_AFTER_S) }, cause: error },
        );
      }
      throw error;
    }

    const headers = new Headers();
    for (const name of FORWARDED_HEADERS) {
      const value = upstream.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    const init = { status: upstream.status, headers };
    if (whole !== undefined || upstream.body === null) {
      finish(whole?.subarray(-TAIL_BYTES) ?? new Uint8Array());
      return { response: new Response(whole ?? null, init), done: Promise.resolve() };
    }
    const { promise: done, resolve } = Promise.withResolvers<void>();
    const observed = observeEventStream(upstream.body, {
      tailBytes: TAIL_BYTES,
      // The headers went out: the client learns of the deadline from a last event.
      lastEvent: () => timedOut ? deadlineEvent(timeoutMs) : undefined,
      signal,
      onFirstChunk: () =>
        metrics.observeTimeToFirstToken(runtime, (performance.now() - started) / 1000),
      onEnd: (tail) => {
        finish(tail);
        resolve();
      },
    });
    return { response: new Response(observed, init), done };
  }
}
