import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { ServerMetrics } from "./server_metrics.ts";

declare module "hono" {
  interface ContextVariableMap {
    /**
     * Set by a handler whose response body outlives it (a proxied stream): settles when the
     * body has ended, so the request's duration covers the whole answer.
     */
    responseDone: Promise<void>;
  }
}

/** Route label of requests that matched no route, so unknown paths cannot grow the label set. */
const UNMATCHED = "unmatched";

/**
 * Middleware counting every request by route pattern (`/runtimes/:id`, not the path) and
 * status code, and observing its duration up to the end of its body.
 */
export function requestMetrics(metrics: ServerMetrics): MiddlewareHandler {
  return async function requestMetrics(c, next) {
    const started = performance.now();
    await next();
    const pattern = routePath(c, -1);
    const route = pattern === "" || pattern === "*" || pattern === "/*" ? UNMATCHED : pattern;
    const code = c.res.status;
    const record = () => metrics.observeRequest(route, code, (performance.now() - started) / 1000);
    const done = c.get("responseDone");
    if (done) done.then(record);
    else record();
  };
}
