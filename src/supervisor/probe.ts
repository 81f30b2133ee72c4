import { errorMessage } from "../_util/error_message.ts";
import { linkedAbort } from "../_util/linked_abort.ts";
import type { ProbeKind, ProbeResult } from "./runtime.ts";

/** Options for {@linkcode probeLlamaServer}. */
export interface ProbeOptions {
  /** The answer must arrive within this. */
  timeoutMs: number;
  /** Abandons the probe (the run ended). */
  signal?: AbortSignal;
}

/**
 * A one-token completion: proves the server can still generate, which `/health` does not
 * (it answers from the HTTP thread while inference may be stuck).
 */
const DEEP_CHECK_BODY = JSON.stringify({ prompt: "Hi", n_predict: 1, cache_prompt: false });

/**
 * Probes the llama-server on `127.0.0.1:port`: `GET /health` must answer 200 (it answers 503
 * while the model loads); a "deep" probe must complete one token. Never rejects.
 */
export async function probeLlamaServer(
  port: number,
  kind: ProbeKind,
  options: ProbeOptions,
): Promise<ProbeResult> {
  // Not AbortSignal.any: its combined signal may be collected once fetch has answered.
  using request = linkedAbort(options.signal);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    request.controller.abort();
  }, options.timeoutMs);
  const signal = request.controller.signal;
  try {
    const response = kind === "health"
      ? await fetch(`http://127.0.0.1:${port}/health`, { signal })
      : await fetch(`http://127.0.0.1:${port}/completion`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: DEEP_CHECK_BODY,
        signal,
      });
    const body = await response.text();
    if (!response.ok) return { ok: false, reason: `HTTP ${response.status}` };
    if (kind === "deep" && typeof JSON.parse(body)?.content !== "string") {
      return { ok: false, reason: "the completion held no content" };
    }
    return { ok: true, reason: "" };
  } catch (error) {
    if (timedOut) {
      return { ok: false, reason: `no answer within ${options.timeoutMs} ms` };
    }
    return { ok: false, reason: errorMessage(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** A loopback port that is free now (the child may still lose a race for it; it then exits and is restarted on another). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
