import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { bootstrapPaths } from "../../bootstrap/run_bootstrap.ts";
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { RuntimeNotFoundError } from "../supervisor/errors.ts";
import type { JobSnapshot, RuntimeSnapshot } from "../supervisor/types.ts";
import { VERSION } from "../version.ts";
import { parseJsonBody } from "./_util.ts";
import { bearerToken } from "./bearer_token.ts";
import { bootstrapBytesReader } from "./bootstrap_bytes.ts";
import { CLIENT_CLOSED_STATUS, errorResponse, HttpError, toHttpError } from "./http_error.ts";
import { INFERENCE_PATHS, type InferenceEndpoint, InferenceProxy } from "./inference_proxy.ts";
import { relabelMetrics, type ScrapedMetrics } from "./relabel_metrics.ts";
import { requestMetrics } from "./request_metrics.ts";
import type { RuntimeSupervisor, ServerDeps } from "./server_deps.ts";
import { ServerMetrics } from "./server_metrics.ts";
import { type SseEvent, sseResponse, subscription } from "./sse.ts";

/** A scrape must not hang on a llama-server that stopped answering. */
const RUNTIME_SCRAPE_TIMEOUT_MS = 1000;

const LogsQuerySchema = z.object({
  tail: z.coerce.number().int().min(0).max(100_000).default(100),
  follow: z.enum(["0", "1", "true", "false"]).default("0"),
});

/** What the app derives from one configuration, once per configuration in use. */
interface Settings {
  readonly config: Config;
  /** The bearer token check, `undefined` when the configuration names no token. */
  readonly auth: MiddlewareHandler | undefined;
  readonly bodyLimit: MiddlewareHandler;
}

function settingsOf(config: Config, token: string | undefined): Settings {
  const { server } = config;
  const publicPaths = ["/health", "/ready", ...(server.metrics_public ? ["/metrics"] : [])];
  return {
    config,
    auth: token === undefined ? undefined : bearerToken({ token, publicPaths }),
    bodyLimit: bodyLimit({
      maxSize: server.max_body_bytes,
      onError: () => {
        throw new HttpError(
          413,
          "payload_too_large",
          `Cannot accept the request: the body is larger than ${server.max_body_bytes} bytes (max_body_bytes); send less or raise max_body_bytes`,
        );
      },
    }),
  };
}

/** The listening socket stays where it was bound: a reload cannot move it. */
function warnRebindNeeded(from: Config, to: Config, logger: Logger): void {
  for (const key of ["host", "port"] as const) {
    if (from.server[key] === to.server[key]) continue;
    logger.warn(`server.${key} changed: it applies only when edgellm serve restarts`, {
      from: from.server[key],
      to: to.server[key],
    });
  }
}

function runtimeOr404(supervisor: RuntimeSupervisor, id: string): RuntimeSnapshot {
  const snapshot = supervisor.get(id);
  if (snapshot) return snapshot;
  throw new RuntimeNotFoundError(id);
}

function jobOr404(job: JobSnapshot | undefined, id: string): JobSnapshot {
  if (job) return job;
  throw new HttpError(
    404,
    "not_found",
    `Cannot find job "${id}": there is no such job, or it ended long enough ago to be forgotten; submit it again to rerun it`,
  );
}

async function scrapeRuntime(id: string, base: URL): Promise<ScrapedMetrics | undefined> {
  try {
    const response = await fetch(new URL("/metrics", base), {
      signal: AbortSignal.timeout(RUNTIME_SCRAPE_TIMEOUT_MS),
    });
    const text = await response.text();
    return response.ok ? { runtime: id, text } : undefined;
  } catch {
    // A runtime going down between `upstream()` and the scrape only loses its samples; its
    // state is still reported by edgellm_runtime_state.
    return undefined;
  }
}

/**
 * Builds the HTTP endpoint (PRODUCT.md "HTTP") as a Hono app; it does not listen. It reads the
 * configuration from `supervisor.config()` for every request, so a reload (SIGHUP) changes its
 * limits, token and queues from the next request on. Routes:
 * `/health` and `/ready` (public), `/v1/models` and the proxied OpenAI routes, the runtime
 * matrix, controls and logs under `/runtimes`, `/events` (SSE), one-shot `/jobs`, and
 * `/metrics` (public when `metrics_public`); the bearer token guards everything else. Every
 * error is rendered by one `onError` as the JSON envelope.
 *
 * @example
 * ```ts
 * const app = createApp({ supervisor, token: readServerToken, logger });
 * Deno.serve({ hostname: "127.0.0.1", port: 8080 }, app.fetch);
 * ```
 */
export function createApp(deps: ServerDeps): Hono {
  const { supervisor, logger } = deps;
  const shutdown = deps.signal ?? new AbortController().signal;
  const startedMs = Date.now();
  const createdS = Math.floor(startedMs / 1000);
  let settings: Settings | undefined;
  /** The settings of the configuration in use, derived again after a reload. */
  function current(): Settings {
    const config = supervisor.config();
    if (settings?.config === config) return settings;
    if (settings !== undefined) warnRebindNeeded(settings.config, config, logger);
    settings = settingsOf(config, deps.token(config.server));
    return settings;
  }
  current();
  const metrics = new ServerMetrics({
    runtimes: () => supervisor.list(),
    // Read at scrape time, after `proxy` below exists.
    queueDepth: (id): number => proxy.queueDepth(id),
    ...(deps.home === undefined ? {} : {
      bootstrapBytes: bootstrapBytesReader(bootstrapPaths(deps.home).stateFile, { logger }),
    }),
  });
  const proxy: InferenceProxy = new InferenceProxy({
    supervisor,
    config: () => current().config,
    metrics,
    signal: shutdown,
  });

  const app = new Hono();
  app.use("*", requestMetrics(metrics));
  app.use("*", async (c, next) => {
    const { auth } = current();
    if (auth === undefined) await next();
    else await auth(c, next);
  });
  app.use("*", (c, next) => current().bodyLimit(c, next));

  app.get("/health", (c) =>
    c.json({
      status: "ok",
      version: VERSION,
      uptime_s: Math.floor((Date.now() - startedMs) / 1000),
    }));

  app.get("/ready", (c) => {
    const runtimes = supervisor.list();
    const ready = runtimes.every((r) => !r.auto_start || r.state === "ready");
    return c.json({
      status: ready ? "ready" : "not_ready",
      runtimes: Object.fromEntries(
        runtimes.map((r) => [r.id, { state: r.state, state_label: r.state_label }]),
      ),
    }, ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const scrapes = supervisor.list().flatMap((r) => {
      const base = supervisor.upstream(r.id);
      return base ? [scrapeRuntime(r.id, base)] : [];
    });
    const [own, runtimes] = await Promise.all([metrics.text(), Promise.all(scrapes)]);
    const scraped = runtimes.filter((s) => s !== undefined);
    return c.body(own + relabelMetrics(scraped), 200, {
      "content-type": metrics.registry.contentType,
    });
  });

  app.get("/v1/models", (c) =>
    c.json({
      object: "list",
      data: supervisor.list().map((r) => ({
        id: r.id,
        object: "model",
        created: createdS,
        owned_by: "edgellm",
        model: r.model,
        state: r.state,
      })),
    }));

  for (const [endpoint, path] of Object.entries(INFERENCE_PATHS)) {
    app.post(path, async (c) => {
      const { response, done } = await proxy.forward(c.req.raw, endpoint as InferenceEndpoint);
      c.set("responseDone", done);
      return response;
    });
  }

  app.get("/runtimes", (c) => c.json({ runtimes: supervisor.list() }));
  app.get("/runtimes/:id", (c) => c.json(runtimeOr404(supervisor, c.req.param("id"))));
  for (const action of ["start", "stop", "restart"] as const) {
    app.post(
      `/runtimes/:id/${action}`,
      async (c) => c.json(await supervisor[action](c.req.param("id"))),
    );
  }

  app.get("/runtimes/:id/logs", (c) => {
    const id = c.req.param("id");
    const query = LogsQuerySchema.parse(c.req.query());
    const lines = supervisor.logs(id, { tail: query.tail });
    if (query.follow === "0" || query.follow === "false") return c.json({ runtime: id, lines });
    return sseResponse(function (signal) {
      // Registered now, right after logs() was read: no line falls between the two.
      const followed = supervisor.follow(id, { signal });
      return (async function* (): AsyncGenerator<SseEvent> {
        for (const line of lines) yield { event: "log", data: line };
        for await (const line of followed) yield { event: "log", data: line };
      })();
    }, { signal: AbortSignal.any([c.req.raw.signal, shutdown]) });
  });

  app.get("/events", (c) => {
    return sseResponse(function (signal) {
      const events = subscription((l) => supervisor.subscribe(l), { signal });
      return (async function* (): AsyncGenerator<SseEvent> {
        for await (const event of events) yield { event: "state", data: event };
      })();
    }, { signal: AbortSignal.any([c.req.raw.signal, shutdown]) });
  });

  app.post("/jobs", async (c) => {
    const job = await supervisor.jobs.submit(parseJsonBody(await c.req.text()));
    return c.json(job, 201, { location: `/jobs/${job.id}` });
  });
  app.get(
    "/jobs/:id",
    (c) => c.json(jobOr404(supervisor.jobs.get(c.req.param("id")), c.req.param("id"))),
  );
  app.delete(
    "/jobs/:id",
    async (c) =>
      c.json(jobOr404(await supervisor.jobs.cancel(c.req.param("id")), c.req.param("id"))),
  );

  app.notFound((c) =>
    errorResponse(
      new HttpError(
        404,
        "not_found",
        `Cannot find "${c.req.method} ${c.req.path}": there is no such route; see "HTTP" in the product documentation for the routes`,
      ),
      c.req.path,
    )
  );

  app.onError((error, c) => {
    // Nobody reads the answer to a request whose client left; the status only shows in metrics.
    if (c.req.raw.signal.aborted) return new Response(null, { status: CLIENT_CLOSED_STATUS });
    const httpError = toHttpError(error);
    if (httpError.status >= 500 && httpError.status !== 503 && httpError.status !== 504) {
      logger.error("request failed", {
        method: c.req.method,
        path: c.req.path,
        error,
      });
    }
    return errorResponse(httpError, c.req.path);
  });
  return app;
}
