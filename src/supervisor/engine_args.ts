/**
 * The llama-server flags a `[runtimes.*] args` list may contain. Anything else is refused:
 * flags that read or write files (`--lora`, `--log-file`, `--slot-save-path`, `--path`),
 * reach the network (`-hf`, `--model-url`, `--rpc`), open the server up (`--host`,
 * `--api-key`) or duplicate a setting edgellm owns (`-m`, `--port`, `-t`, `-c`, `-np`).
 * Each entry says whether the flag takes a value.
 */
const ALLOWED_FLAGS: Readonly<Record<string, "flag" | "value">> = {
  // Performance and memory.
  "-tb": "value",
  "--threads-batch": "value",
  "-b": "value",
  "--batch-size": "value",
  "-ub": "value",
  "--ubatch-size": "value",
  "-fa": "value",
  "--flash-attn": "value",
  "-ctk": "value",
  "--cache-type-k": "value",
  "-ctv": "value",
  "--cache-type-v": "value",
  "-ngl": "value",
  "--gpu-layers": "value",
  "--n-gpu-layers": "value",
  "-sm": "value",
  "--split-mode": "value",
  "-mg": "value",
  "--main-gpu": "value",
  "-ts": "value",
  "--tensor-split": "value",
  "-dev": "value",
  "--device": "value",
  "-lm": "value",
  "--load-mode": "value",
  "--numa": "value",
  "--prio": "value",
  "--poll": "value",
  "-C": "value",
  "--cpu-mask": "value",
  "-Cr": "value",
  "--cpu-range": "value",
  "-cram": "value",
  "--cache-ram": "value",
  "-ctxcp": "value",
  "--ctx-checkpoints": "value",
  "--threads-http": "value",
  "--cache-reuse": "value",
  "--sleep-idle-seconds": "value",
  "--mlock": "flag",
  "--no-mmap": "flag",
  "--swa-full": "flag",
  "--no-repack": "flag",
  "-nkvo": "flag",
  "--no-kv-offload": "flag",
  "-kvu": "flag",
  "--kv-unified": "flag",
  "-no-kvu": "flag",
  "--no-kv-unified": "flag",
  "--check-tensors": "flag",
  "--warmup": "flag",
  "--no-warmup": "flag",
  "-cb": "flag",
  "--cont-batching": "flag",
  "-nocb": "flag",
  "--no-cont-batching": "flag",
  "--context-shift": "flag",
  "--no-context-shift": "flag",
  "--cache-prompt": "flag",
  "--no-cache-prompt": "flag",
  // Model behaviour and sampling defaults.
  "-n": "value",
  "--predict": "value",
  "--n-predict": "value",
  "--keep": "value",
  "--rope-scaling": "value",
  "--rope-scale": "value",
  "--rope-freq-base": "value",
  "--rope-freq-scale": "value",
  "--yarn-orig-ctx": "value",
  "-s": "value",
  "--seed": "value",
  "--temp": "value",
  "--temperature": "value",
  "--top-k": "value",
  "--top-p": "value",
  "--min-p": "value",
  "--typical": "value",
  "--repeat-last-n": "value",
  "--repeat-penalty": "value",
  "--presence-penalty": "value",
  "--frequency-penalty": "value",
  "--mirostat": "value",
  "--mirostat-lr": "value",
  "--mirostat-ent": "value",
  "--pooling": "value",
  "--chat-template": "value",
  "--reasoning-format": "value",
  "--reasoning-budget": "value",
  "-sps": "value",
  "--slot-prompt-similarity": "value",
  "--ignore-eos": "flag",
  "--embedding": "flag",
  "--embeddings": "flag",
  "--rerank": "flag",
  "--reranking": "flag",
  "--jinja": "flag",
  "--no-jinja": "flag",
  // Server surface and logging (all to stdout/stderr, which edgellm captures).
  "-a": "value",
  "--alias": "value",
  "-to": "value",
  "--timeout": "value",
  "-lv": "value",
  "--verbosity": "value",
  "--log-verbosity": "value",
  "--metrics": "flag",
  "--slots": "flag",
  "--no-slots": "flag",
  "--no-webui": "flag",
  "--no-ui": "flag",
  "--offline": "flag",
  "--log-disable": "flag",
  "--log-timestamps": "flag",
  "--no-log-timestamps": "flag",
  "--log-prefix": "flag",
  "--no-log-prefix": "flag",
  "-v": "flag",
  "--verbose": "flag",
  "--no-perf": "flag",
};

/** Flags edgellm sets from the runtime's own settings; the message says which. */
const OWNED_FLAGS: Readonly<Record<string, string>> = {
  "-m": "model",
  "--model": "model",
  "--host": "the loopback host edgellm chooses",
  "--port": "the free port edgellm chooses",
  "-t": "threads",
  "--threads": "threads",
  "-c": "ctx_size",
  "--ctx-size": "ctx_size",
  "-np": "parallel",
  "--parallel": "parallel",
};

/** A value may not look like a flag, except a negative number such as `--seed -1`. */
function isValue(arg: string | undefined): arg is string {
  return arg !== undefined && (!arg.startsWith("-") || /^-\d/.test(arg));
}

/**
 * Checks a runtime's extra llama-server arguments against the allow-list.
 *
 * @throws {RangeError} naming the first argument that is refused and why.
 */
export function checkEngineArgs(args: readonly string[]): void {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.startsWith("-") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const owner = OWNED_FLAGS[name];
    if (owner !== undefined) {
      throw new RangeError(`Cannot use argument "${arg}": edgellm sets it from ${owner}`);
    }
    const kind = Object.hasOwn(ALLOWED_FLAGS, name) ? ALLOWED_FLAGS[name] : undefined;
    if (kind === undefined) {
      throw new RangeError(
        `Cannot use argument "${arg}": it is not among the llama-server flags edgellm allows ` +
          `(performance, sampling and logging flags; no flag that reads files or reaches the network)`,
      );
    }
    if (kind === "flag" && inline !== undefined) {
      throw new RangeError(`Cannot use argument "${arg}": "${name}" takes no value`);
    }
    if (kind === "value" && inline === undefined) {
      if (!isValue(args[i + 1])) {
        throw new RangeError(`Cannot use argument "${arg}": it needs a value after it`);
      }
      i++;
    }
  }
}

/** Options for {@linkcode llamaServerArgs}. */
export interface LlamaServerArgsOptions {
  /** Absolute path of the GGUF file. */
  modelPath: string;
  /** Resolved thread count. */
  threads: number;
  /** `ctx_size`. */
  ctxSize: number;
  /** `parallel` slots. */
  parallel: number;
  /**
   * Add one slot for the deep health probe (`deep_interval_ms > 0`), so that a probe never
   * waits behind `parallel` busy requests. @default {false}
   */
  probeSlot?: boolean;
  /** Allow-listed extra arguments ({@linkcode checkEngineArgs}). @default {[]} */
  extra?: readonly string[];
}

/**
 * The llama-server arguments of a runtime, without `--host`/`--port` (chosen at each spawn).
 *
 * @throws {RangeError} when `extra` holds a refused argument.
 */
export function llamaServerArgs(options: LlamaServerArgsOptions): string[] {
  const extra = options.extra ?? [];
  checkEngineArgs(extra);
  const { ctxSize, parallel } = options;
  // llama-server splits --ctx-size evenly over its slots; the probe's slot gets a share as
  // large as the others, so each of the `parallel` slots keeps ctx_size / parallel. The HTTP
  // endpoint admits only `parallel` requests at once: the extra slot stays free for probes.
  const slots = options.probeSlot ? parallel + 1 : parallel;
  const ctx = options.probeSlot ? Math.ceil(ctxSize / parallel) * slots : ctxSize;
  return [
    "--model",
    options.modelPath,
    "--threads",
    String(options.threads),
    "--ctx-size",
    String(ctx),
    "--parallel",
    String(slots),
    // The HTTP endpoint re-exports llama-server's own metrics on /metrics.
    "--metrics",
    ...extra,
  ];
}
