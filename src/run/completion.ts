/** What a one-shot completion asks llama.cpp for. */
export interface CompletionRequest {
  /** Absolute path of the GGUF model. */
  model: string;
  /** The text to continue, passed as it is (no chat template applied). */
  prompt: string;
  /** Tokens to generate. */
  tokens: number;
  /** CPU threads. */
  threads: number;
  /** Sampler seed: the same seed gives the same text. */
  seed: number;
}

/**
 * The environment of `llama-completion`: OpenMP threads that sleep rather than spin once
 * generation ends, so llama.cpp's logging thread, which writes the text, gets a CPU before
 * the process exits (spinning threads made it lose the end of the text in 3 of 4 runs on 2
 * cores; sleeping ones in about 1 of 20).
 */
export const COMPLETION_ENV: Readonly<Record<string, string>> = { OMP_WAIT_POLICY: "passive" };

/**
 * The arguments of `llama-completion` for one non-interactive completion whose stdout is the
 * generated text alone: no conversation (a model with a chat template would otherwise start
 * one and wait on stdin), the prompt not echoed, and plain logs (no colours) on stderr.
 */
export function completionArgs(request: CompletionRequest): string[] {
  return [
    "--model",
    request.model,
    "--prompt",
    request.prompt,
    "--n-predict",
    String(request.tokens),
    "--threads",
    String(request.threads),
    "--seed",
    String(request.seed),
    "--no-conversation",
    "--no-display-prompt",
    "--log-colors",
    "off",
  ];
}

/** Token counts and timings that llama.cpp prints when a completion ends. */
export interface CompletionStats {
  /** How many tokens went in and came out. */
  tokens: {
    /** Prompt tokens evaluated (with the begin-of-sequence token). */
    prompt: number;
    /** Tokens generated. */
    generated: number;
  };
  /** Milliseconds, as llama.cpp measured them. */
  timings: {
    load_ms: number;
    prompt_ms: number;
    generation_ms: number;
    total_ms: number;
  };
}

/**
 * A finished completion: the generated text and, when llama.cpp printed them, its stats.
 * `stats` is `null` when the performance report is missing, and then the text may lack its
 * end too: llama.cpp writes both from a logging thread that it does not wait for at exit.
 */
export interface Completion {
  /** The generated text, without the prompt and without " [end of text]". */
  text: string;
  /** The performance report; `null` when llama.cpp's logging thread lost it. */
  stats: CompletionStats | null;
}

/**
 * What `llama-completion` writes to stdout after the generated text: " [end of text]\n" when
 * the model ended it, then "\n\n" before the performance report.
 */
const END_OF_TEXT = " [end of text]\n";
const TRAILER = "\n\n";

function perfLine(stderr: string, name: string): RegExpExecArray | null {
  // Older builds prefix these lines `llama_perf_context_print:`, newer ones `common_perf_print:`.
  return new RegExp(
    `(?:common_perf_print|llama_perf_\\w+_print):\\s+${name} time =\\s+([\\d.]+) ms(?: /\\s+(\\d+) (?:tokens|runs))?`,
  ).exec(stderr);
}

/**
 * Parses what `llama-completion` printed: the text from stdout (without the trailer it adds)
 * and the token counts and timings from the performance report on stderr. The generated
 * count is the sampler's count less the prompt, since the sampler also accepts each prompt
 * token while the last generated token is never evaluated.
 */
export function parseCompletion(stdout: string, stderr: string): Completion {
  let text = stdout.endsWith(TRAILER) ? stdout.slice(0, -TRAILER.length) : stdout;
  if (text.endsWith(END_OF_TEXT)) text = text.slice(0, -END_OF_TEXT.length);
  const load = perfLine(stderr, "load");
  const prompt = perfLine(stderr, "prompt eval");
  const generation = perfLine(stderr, "eval");
  const total = perfLine(stderr, "total");
  const samplers = perfLine(stderr, "samplers") ?? perfLine(stderr, "sampling");
  if (!load || !prompt?.[2] || !generation || !total || !samplers?.[2]) {
    return { text, stats: null };
  }
  const promptTokens = Number(prompt[2]);
  return {
    text,
    stats: {
      tokens: { prompt: promptTokens, generated: Number(samplers[2]) - promptTokens },
      timings: {
        load_ms: Number(load[1]),
        prompt_ms: Number(prompt[1]),
        generation_ms: Number(generation[1]),
        total_ms: Number(total[1]),
      },
    },
  };
}
