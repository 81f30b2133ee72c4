import { CliError, ExitCode } from "../src/errors.ts";
import { delay } from "../src/_util/delay.ts";

/** Options for {@linkcode HubError}. */
export interface HubErrorOptions {
  /** HTTP status, when the hub answered. */
  status?: number;
  /** The hub's `X-Error-Code` (e.g. `RepoNotFound`, `GatedRepo`). */
  code?: string;
  /** Whether a later retry may succeed (network, 5xx, 429): exit 75, else exit 1. */
  temporary: boolean;
  /** How long the hub asked to wait (`Retry-After`), in milliseconds. */
  retryAfterMs?: number;
  /** The error that led to this one. */
  cause?: unknown;
}

/** A failed exchange with the hub: temporary ones are retried, then exit 75; others exit 1. */
export class HubError extends CliError {
  /** HTTP status, or `undefined` for a network failure. */
  readonly status: number | undefined;
  /** The hub's `X-Error-Code`, if any. */
  readonly code: string | undefined;
  /** Whether a later retry may succeed. */
  readonly temporary: boolean;
  /** `Retry-After` in milliseconds, if the hub sent one. */
  readonly retryAfterMs: number | undefined;

  /** Constructs a new instance. */
  constructor(message: string, options: HubErrorOptions) {
    super(message, options.temporary ? ExitCode.TempFail : ExitCode.Failed, {
      cause: options.cause,
    });
    this.name = "HubError";
    this.status = options.status;
    this.code = options.code;
    this.temporary = options.temporary;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Options for {@linkcode retry}. */
export interface RetryOptions {
  /** Attempts in a row without progress before giving up. @default {5} */
  maxAttempts?: number;
  /** Delay before the first retry; doubles each time. @default {400} */
  initialDelayMs?: number;
  /** Upper bound of the exponential delay. @default {8000} */
  maxDelayMs?: number;
  /**
   * The longest `Retry-After` honoured; a longer one gives up at once (exit 75), since cron
   * will come back anyway. @default {60000}
   */
  maxRetryAfterMs?: number;
  /**
   * Called after a failed attempt: `true` when it moved forward (bytes arrived), which resets
   * the count of attempts, so a slow flaky link still finishes. @default {() => false}
   */
  madeProgress?: () => boolean;
  /** Told about each retry before its wait. */
  onRetry?: (error: HubError, attempt: number, delayMs: number) => void;
  /** Random number in [0, 1), for tests. @default {Math.random} */
  random?: () => number;
  /** Aborts the waits. */
  signal?: AbortSignal;
}

/**
 * Runs `fn` until it succeeds, retrying temporary {@linkcode HubError}s (network, 5xx, 429)
 * with exponential backoff and equal jitter, honouring `Retry-After`. Other errors propagate
 * at once; the last temporary error propagates when the attempts are spent.
 */
export async function retry<T>(
  fn: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? 5;
  const initial = options.initialDelayMs ?? 400;
  const maxDelay = options.maxDelayMs ?? 8000;
  const maxRetryAfter = options.maxRetryAfterMs ?? 60_000;
  const random = options.random ?? Math.random;
  let attempt = 1;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof HubError) || !error.temporary || options.signal?.aborted) throw error;
      if (options.madeProgress?.()) attempt = 1;
      if (attempt >= maxAttempts) throw error;
      let wait: number;
      if (error.retryAfterMs !== undefined) {
        if (error.retryAfterMs > maxRetryAfter) throw error;
        wait = error.retryAfterMs;
      } else {
        const exponential = Math.min(maxDelay, initial * 2 ** (attempt - 1));
        wait = exponential / 2 + random() * exponential / 2;
      }
      options.onRetry?.(error, attempt, wait);
      await delay(wait, options.signal);
      attempt++;
    }
  }
}

/**
 * Parses a `Retry-After` header (seconds or an HTTP date) into milliseconds from `now`;
 * `undefined` when absent or unparsable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
