/** An abort controller tied to a parent signal; disposing it detaches it from the parent. */
export interface LinkedAbort extends Disposable {
  /** Aborts when the parent does (with the parent's reason), or when aborted itself. */
  readonly controller: AbortController;
}

/**
 * A controller that also aborts when `parent` does. Not `AbortSignal.any`: its combined signal
 * is only weakly held by its sources and may be garbage-collected while work still depends on
 * it (measured: once `fetch` has answered), so that an abort (a SIGINT) never arrives. Here the
 * parent's listener holds the controller until disposal.
 *
 * @example
 * ```ts
 * using request = linkedAbort(options.signal);
 * const timer = setTimeout(() => request.controller.abort(), 1000);
 * const response = await fetch(url, { signal: request.controller.signal });
 * ```
 */
export function linkedAbort(parent: AbortSignal | undefined): LinkedAbort {
  const controller = new AbortController();
  if (!parent) return { controller, [Symbol.dispose]() {} };
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener("abort", onAbort, { once: true });
  return { controller, [Symbol.dispose]: () => parent.removeEventListener("abort", onAbort) };
}
