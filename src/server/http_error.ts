import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { RuntimeNotFoundError } from "../supervisor/errors.ts";
import { InvalidJobError } from "../supervisor/job_spec.ts";
import { QueueFullError } from "./admission_queue.ts";

/** The machine-readable `error.code` of every error the endpoint answers with. */
export type HttpErrorCode =
  | "bad_request"
  | "unauthorized"
  | "not_found"
  | "model_not_found"
  | "payload_too_large"
  | "queue_full"
  | "runtime_not_ready"
  | "timeout"
  | "internal_error";

/** Options for {@linkcode HttpError}. */
export interface HttpErrorOptions {
  /** Extra response headers, e.g. `Retry-After`. @default {{}} */
  headers?: Record<string, string>;
  /** The error that led to this one. */
  cause?: unknown;
}

/**
 * An error a handler throws to answer with a status: `app.onError` renders it as the one
 * JSON envelope (see {@linkcode errorResponse}).
 */
export class HttpError extends Error {
  /** The response status. */
  readonly status: ContentfulStatusCode;
  /** `error.code` of the envelope. */
  readonly code: HttpErrorCode;
  /** Extra response headers. */
  readonly headers: Readonly<Record<string, string>>;

  /** Constructs a new instance. */
  constructor(
    status: ContentfulStatusCode,
    code: HttpErrorCode,
    message: string,
    options: HttpErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
  }
}

/**
 * Seconds a client should wait after a 503: a starting llama-server usually answers its
 * health check within a few seconds.
 */
export const NOT_READY_RETRY_AFTER_S = 5;

/** Seconds a client should wait after a 429: a slot frees as soon as one generation ends. */
export const QUEUE_FULL_RETRY_AFTER_S = 1;

/** The status nginx logs for a client that closed the connection before the answer. */
export const CLIENT_CLOSED_STATUS = 499;

const CODE_OF_STATUS: Partial<Record<number, HttpErrorCode>> = {
  400: "bad_request",
  401: "unauthorized",
  404: "not_found",
  413: "payload_too_large",
  429: "queue_full",
  503: "runtime_not_ready",
  504: "timeout",
};

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "body"}: ${issue.message}`)
    .join("; ");
}

/**
 * The one mapping from what handlers throw to an {@linkcode HttpError}: domain errors get
 * their status, anything unknown is a 500 whose message does not leak internals.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof QueueFullError) {
    return new HttpError(429, "queue_full", error.message, {
      headers: { "Retry-After": String(QUEUE_FULL_RETRY_AFTER_S) },
      cause: error,
    });
  }
  if (error instanceof RuntimeNotFoundError) {
    return new HttpError(404, "not_found", error.message, { cause: error });
  }
  if (error instanceof InvalidJobError) {
    return new HttpError(400, "bad_request", error.message, { cause: error });
  }
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return new HttpError(504, "timeout", error.message, { cause: error });
  }
  if (error instanceof z.ZodError) {
    return new HttpError(
      400,
      "bad_request",
      `Cannot accept the request: ${describeIssues(error)}; fix these fields and send it again`,
      { cause: error },
    );
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const code = CODE_OF_STATUS[status] ?? "internal_error";
    return new HttpError(
      status,
      code,
      error.message ||
        `Cannot answer the request: it failed with HTTP ${status}; see the server's log`,
      { cause: error },
    );
  }
  return new HttpError(
    500,
    "internal_error",
    "Cannot answer the request: an internal error happened; see the server's log",
    { cause: error },
  );
}

/** `error.type` of the OpenAI envelope, which its SDKs expose to callers. */
function openAiType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/**
 * Renders an error as the JSON envelope `{"error":{"code","message"}}`; under `/v1/` it is
 * OpenAI's shape (`message`, `type`, `param`, `code`) so its SDKs read it.
 */
export function errorResponse(error: HttpError, path: string): Response {
  const body = path.startsWith("/v1/")
    ? {
      error: {
        message: error.message,
        type: openAiType(error.status),
        param: null,
        code: error.code,
      },
    }
    : { error: { code: error.code, message: error.message } };
  return Response.json(body, { status: error.status, headers: error.headers });
}
