import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BootstrapTotals } from "../../bootstrap/state_file.ts";
import type { RuntimeSnapshot, RuntimeState } from "../supervisor/types.ts";

const RUNTIME_STATES: readonly RuntimeState[] = [
  "stopped",
  "starting",
  "ready",
  "degraded",
  "backoff",
  "failed",
  "stopping",
];

/** Why a request was turned away before it reached llama-server. */
export type RejectReason = "queue_full" | "not_ready" | "timeout";

/**
 * Request durations span health checks (milliseconds) to long generations (minutes, up to
 * the default `request_timeout_s` of 300).
 */
const DURATION_BUCKETS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
];

/** Time to first token: prompt processing on an edge CPU takes from milliseconds to a minute. */
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Options for {@linkcode ServerMetrics}. */
export interface ServerMetricsOptions {
  /** The runtime matrix, read at each scrape. */
  runtimes: () => readonly RuntimeSnapshot[];
  /** Requests waiting for a slot, per runtime id, read at each scrape. */
  queueDepth: (runtime: string) => number;
  /**
   * The bytes bootstrap brought into the store over all its runs, read at each scrape; must
   * never decrease and never reject (see `bootstrap_bytes.ts`). @default {zeros}
   */
  bootstrapBytes?: () => Promise<BootstrapTotals>;
}

/**
 * The endpoint's Prometheus metrics (names prefixed `edgellm_`). Counters and histograms are
 * updated as requests happen; gauges that mirror other state are read when scraped, so the
 * hot path never pays for them.
 */
export class ServerMetrics {
  /** The prom-client registry holding every metric. */
  readonly registry: Registry = new Registry();
  readonly #requests: Counter<"route" | "code">;
  readonly #duration: Histogram<"route">;
  readonly #ttft: Histogram<"runtime">;
  readonly #rejected: Counter<"runtime" | "reason">;
  readonly #tokens: Counter<"runtime">;

  /** Constructs a new instance. */
  constructor(options: ServerMetricsOptions) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: "edgellm_http_requests_total",
      help: "HTTP requests answered, by route pattern and status code.",
      labelNames: ["route", "code"],
      registers,
    });
    this.#duration = new Histogram({
      name: "edgellm_http_request_duration_seconds",
      help: "Time from a request's arrival to the end of its response body.",
      labelNames: ["route"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#ttft = new Histogram({
      name: "edgellm_time_to_first_token_seconds",
      help: "Time from a streamed request's arrival to its first chunk from llama-server.",
      labelNames: ["runtime"],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.#rejected = new Counter({
      name: "edgellm_requests_rejected_total",
      help: "Inference requests turned away before reaching llama-server.",
      labelNames: ["runtime", "reason"],
      registers,
    });
    this.#tokens = new Counter({
      name: "edgellm_tokens_generated_total",
      help: "Tokens llama-server generated for proxied requests.",
      labelNames: ["runtime"],
      registers,
    });
    new Gauge({
      name: "edgellm_queue_depth",
      help: "Requests waiting for a llama-server slot.",
      labelNames: ["runtime"],
      registers,
      collect() {
        this.reset();
        for (const { id } of options.runtimes()) this.set({ runtime: id }, options.queueDepth(id));
      },
    });
    new Gauge({
      name: "edgellm_runtime_state",
      help: "1 for the state each runtime is in, 0 for the others.",
      labelNames: ["runtime", "state"],
      registers,
      collect() {
        this.reset();
        for (const { id, state } of options.runtimes()) {
          for (const s of RUNTIME_STATES) this.set({ runtime: id, state: s }, s === state ? 1 : 0);
        }
      },
    });
    new Counter({
      name: "edgellm_runtime_restarts_total",
      help: "Automatic restarts of each runtime since edgellm started.",
      labelNames: ["runtime"],
      registers,
      collect() {
        this.reset();
        for (const { id, restarts } of options.runtimes()) {
          this.inc({ runtime: id }, restarts.total);
        }
      },
    });
    const bootstrapBytes = options.bootstrapBytes ??
      (() => Promise.resolve({ downloaded_bytes: 0, imported_bytes: 0 }));
    new Counter({
      name: "edgellm_bootstrap_bytes_total",
      // `edgellm bootstrap` runs as its own process (cron, a timer), so the totals come from
      // its state file rather than from this process.
      help: "Bytes of model files edgellm bootstrap brought into the store over all its runs, " +
        'by source: "hub" (downloaded) or "import" (copied from a --from folder).',
      labelNames: ["source"],
      registers,
      async collect() {
        const totals = await bootstrapBytes();
        this.reset();
        this.inc({ source: "hub" }, totals.downloaded_bytes);
        this.inc({ source: "import" }, totals.imported_bytes);
      },
    });
    const memory: [string, string, (m: Deno.MemoryUsage) => number][] = [
      ["edgellm_process_resident_memory_bytes", "Resident set size.", (m) => m.rss],
      ["edgellm_process_heap_used_bytes", "JavaScript heap in use.", (m) => m.heapUsed],
      ["edgellm_process_heap_total_bytes", "JavaScript heap reserved.", (m) => m.heapTotal],
      [
        "edgellm_process_external_memory_bytes",
        "Memory of buffers outside the heap.",
        (m) => m.external,
      ],
    ];
    for (const [name, help, read] of memory) {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(Deno.memoryUsage()));
        },
      });
    }
  }

  /** Counts an answered request and observes its duration. */
  observeRequest(route: string, code: number, seconds: number): void {
    this.#requests.inc({ route, code });
    this.#duration.observe({ route }, seconds);
  }

  /** Observes the time to the first streamed chunk of a request to `runtime`. */
  observeTimeToFirstToken(runtime: string, seconds: number): void {
    this.#ttft.observe({ runtime }, seconds);
  }

  /** Counts a request turned away before reaching llama-server. */
  countRejected(runtime: string, reason: RejectReason): void {
    this.#rejected.inc({ runtime, reason });
  }

  /** Adds tokens llama-server generated for `runtime`. */
  countTokens(runtime: string, tokens: number): void {
    if (tokens > 0) this.#tokens.inc({ runtime }, tokens);
  }

  /** The exposition text of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
