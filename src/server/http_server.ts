import type { Config, ServerConfig } from "../config/mod.ts";
import { CliError, ExitCode, UsageError } from "../errors.ts";
import type { Logger } from "../log/mod.ts";
import { createApp } from "./create_app.ts";
import type { RuntimeSupervisor, ServerDeps } from "./server_deps.ts";
import { readServerToken } from "./server_token.ts";

/** Options for {@linkcode startHttpServer}. */
export interface StartHttpServerOptions {
  /** Address to bind, e.g. `127.0.0.1` or `0.0.0.0`. */
  hostname: string;
  /** Port to bind; 0 picks a free one (see {@linkcode HttpServer.addr}). */
  port: number;
}

/** Options for {@linkcode HttpServer.shutdown}. */
export interface ShutdownOptions {
  /**
   * How long requests in flight (generations) may take to finish before `shutdown()`
   * returns anyway; the caller then stops the runtimes, which ends them.
   * @default {10000}
   */
  graceMs?: number;
}

/** The endpoint, listening. */
export interface HttpServer {
  /** The bound address (the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** Settles when the server has closed and every response has ended. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting connections, ends the event and log streams at once, then waits up to
   * `graceMs` for the requests in flight. Idempotent.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/** Matches the IPv4 loopback network 127.0.0.0/8. */
const IPV4_LOOPBACK = /^127(\.\d{1,3}){3}$/;

function unbracket(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, "$1");
}

/** Whether `hostname` only accepts connections from this machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = unbracket(hostname).toLowerCase();
  return host === "localhost" || host === "::1" || IPV4_LOOPBACK.test(host);
}

/**
 * Refuses to serve a non-loopback host without a bearer token: anyone on the network could
 * otherwise run inference and stop runtimes. `insecure` (`--insecure`) overrides.
 *
 * @throws {UsageError} when `hostname` is not loopback, `token` is unset and not `insecure`.
 */
export function assertSafeBind(
  hostname: string,
  token: string | undefined,
  options: { insecure?: boolean; tokenEnv?: string } = {},
): void {
  if (token !== undefined || options.insecure || isLoopbackHost(hostname)) return;
  throw new UsageError(
    `Cannot serve on "${hostname}" without a token: anyone who can reach it could use and ` +
      `control the runtimes. Set ${options.tokenEnv ?? "the token variable"} (server.token_env), ` +
      `bind 127.0.0.1, or pass --insecure to serve without a token anyway`,
  );
}

/**
 * Builds the endpoint with {@linkcode createApp} and serves it with `Deno.serve`. The app's
 * event and log streams end when {@linkcode HttpServer.shutdown} is called (before the
 * server waits for open responses, since it would otherwise wait for them forever), or when
 * `deps.signal` aborts.
 *
 * @example
 * ```ts
 * const server = await startHttpServer(deps, { hostname: "127.0.0.1", port: 8080 });
 * signal.addEventListener("abort", () => server.shutdown());
 * await server.finished;
 * ```
 */
export async function startHttpServer(
  deps: ServerDeps,
  options: StartHttpServerOptions,
): Promise<HttpServer> {
  const streams = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, streams.signal]) : streams.signal;
  const app = createApp({ ...deps, signal });
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: resolve,
  }, app.fetch);
  const addr = await listening;
  let stopping: Promise<void> | undefined;
  return {
    addr,
    finished: server.finished,
    shutdown(shutdownOptions = {}) {
      stopping ??= (async () => {
        streams.abort();
        const graceMs = shutdownOptions.graceMs ?? 10_000;
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          server.shutdown(),
          new Promise((resolve) => timer = setTimeout(resolve, graceMs)),
        ]);
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** Options for {@linkcode serveHttp}: what `edgellm serve` hands its HTTP half. */
export interface ServeHttpOptions {
  /**
   * The validated configuration serve started with: the token the bind is checked against.
   * Later ones come from `supervisor.config()` (a reload).
   */
  readonly config: Config;
  /** `--host`, else `[server] host`. */
  readonly host: string;
  /** `--port`, else `[server] port`. */
  readonly port: number;
  /** Aborted on SIGTERM/SIGINT: stop listening, end the event streams, let requests finish. */
  readonly signal: AbortSignal;
  /** Parent of the endpoint's logger (`component: "http"`): request failures, warnings. */
  readonly logger: Logger;
  /** `--insecure`: serve a non-loopback host without a token. @default {false} */
  readonly insecure?: boolean;
  /** How long requests in flight may take after `signal` (see {@linkcode ShutdownOptions}). */
  readonly graceMs?: number;
  /** `$EDGELLM_HOME`, for bootstrap's byte totals in `/metrics` (see {@linkcode ServerDeps.home}). */
  readonly home?: string;
}

/**
 * The HTTP half of `edgellm serve`: checks that the host may be served, listens, and resolves
 * once `signal` aborted and the server has shut down (the supervisor then stops the runtimes).
 *
 * @throws {UsageError} (exit 2) for a non-loopback host without a token and without
 * `insecure`, or a host the process may not bind.
 * @throws {CliError} exit 75 when the address is in use.
 */
export async function serveHttp(
  supervisor: RuntimeSupervisor,
  options: ServeHttpOptions,
): Promise<void> {
  const { config, host, port, signal } = options;
  const token = readServerToken(config.server);
  const insecure = options.insecure ?? false;
  assertSafeBind(host, token, {
    insecure,
    tokenEnv: config.server.token_env,
  });
  const logger = options.logger.child({ component: "http" });
  let inUse = token;
  /** The token of a reloaded configuration; one that would open a network bind is refused. */
  const reloadedToken = (server: ServerConfig): string | undefined => {
    const next = readServerToken(server);
    if (next === undefined && inUse !== undefined && !insecure && !isLoopbackHost(host)) {
      logger.error(
        `Cannot drop the token: ${server.token_env} (server.token_env) is unset and "${host}" ` +
          "is not loopback; the previous token stays; set the variable and restart, or restart with --insecure",
      );
      return inUse;
    }
    inUse = next;
    return next;
  };
  let server: HttpServer;
  try {
    server = await startHttpServer({
      supervisor,
      token: reloadedToken,
      logger,
      signal,
      home: options.home,
    }, {
      hostname: unbracket(host),
      port,
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new CliError(
        `Cannot listen on ${host}:${port}: the address is in use; stop what holds it or choose another --port`,
        ExitCode.TempFail,
        { cause: error },
      );
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.AddrNotAvailable) {
      throw new UsageError(
        `Cannot listen on "${host}": the address is not one of this machine's, or not allowed; ` +
          "use a loopback address, or 0.0.0.0 / :: for every interface",
        { cause: error },
      );
    }
    throw error;
  }
  if (token === undefined && !isLoopbackHost(host)) {
    logger.warn("serving without a token (--insecure): anyone who can reach it may use it", {
      host,
    });
  }
  const bare = unbracket(host);
  logger.info("listening", {
    url: `http://${bare.includes(":") ? `[${bare}]` : bare}:${server.addr.port}`,
  });
  const { promise: stopped, resolve } = Promise.withResolvers<void>();
  const stop = () =>
    server.shutdown(options.graceMs === undefined ? {} : { graceMs: options.graceMs }).then(
      resolve,
    );
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true });
  await stopped;
}
