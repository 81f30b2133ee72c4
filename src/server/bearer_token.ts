import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HttpError } from "./http_error.ts";

/** Options for {@linkcode bearerToken}. */
export interface BearerTokenOptions {
  /** The token clients must send as `Authorization: Bearer <token>`. */
  token: string;
  /** Paths answered without a token (exact matches). @default {[]} */
  publicPaths?: readonly string[];
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Middleware requiring `Authorization: Bearer <token>` on every path but `publicPaths`.
 * Both tokens are hashed before a constant-time comparison, so neither the content nor the
 * length of the expected token leaks through timing.
 *
 * @throws {HttpError} 401 when the header is missing, malformed or names another token.
 *
 * @example
 * ```ts
 * app.use("*", bearerToken({ token: "s3cret", publicPaths: ["/health"] }));
 * ```
 */
export function bearerToken(options: BearerTokenOptions): MiddlewareHandler {
  if (options.token === "") {
    throw new TypeError("Cannot require a bearer token: it is empty; pass a non-empty token");
  }
  const expected = digest(options.token);
  const publicPaths = new Set(options.publicPaths ?? []);
  return async function bearerToken(c, next) {
    if (publicPaths.has(c.req.path)) return await next();
    const given = c.req.header("authorization")?.match(BEARER)?.[1];
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      throw new HttpError(
        401,
        "unauthorized",
        given === undefined
          ? 'Cannot authorize the request: it carries no bearer token; send "Authorization: Bearer <token>"'
          : "Cannot authorize the request: the bearer token is wrong; send the one the server's token_env variable holds",
        { headers: { "WWW-Authenticate": 'Bearer realm="edgellm"' } },
      );
    }
    await next();
  };
}
