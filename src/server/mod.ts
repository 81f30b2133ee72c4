/**
 * The HTTP endpoint: a Hono app ({@linkcode createApp}) with liveness and readiness, the
 * OpenAI routes proxied to the supervised llama-servers behind a per-runtime admission queue,
 * the runtime matrix and controls, server-sent events and Prometheus metrics.
 *
 * @module
 */
export * from "./admission_queue.ts";
export * from "./bearer_token.ts";
export * from "./create_app.ts";
export * from "./http_error.ts";
export * from "./http_server.ts";
export * from "./inference_proxy.ts";
export * from "./server_deps.ts";
export * from "./server_metrics.ts";
export * from "./server_token.ts";
export * from "./status_command.ts";
