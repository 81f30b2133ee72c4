import type { ExecLine } from "../natives/mod.ts";
import { type Completion, COMPLETION_ENV, parseCompletion } from "./completion.ts";
import { type RunResult, runWithDeadline } from "./run_with_deadline.ts";

/**
 * Runs of llama-completion before giving up on a cut-short output. llama.cpp writes the text
 * from a logging thread that it does not wait for at exit, so a run that exits 0 may have
 * lost the end of its text (its performance report, printed last, is then missing too); the
 * same seed gives the same text again, so a rerun repairs it.
 */
export const MAX_COMPLETION_ATTEMPTS = 3;

/** Options for {@linkcode runCompletion}. */
export interface RunCompletionOptions {
  /** Stop after this long, over all attempts. @default {no deadline} */
  timeoutMs?: number;
  /** Stops the run when aborted. */
  signal?: AbortSignal;
}

/** What {@linkcode runCompletion} got: the last run, its parsed output and how many runs. */
export interface CompletionRun {
  result: RunResult;
  completion: Completion;
  attempts: number;
}

/**
 * Runs a `llama-completion` command line (see {@linkcode completionArgs}, with a fixed seed)
 * to the end, rerunning it while it exits 0 with its output cut short, at most
 * {@linkcode MAX_COMPLETION_ATTEMPTS} times. `completion.stats` is `null` after the last
 * attempt when the output is still incomplete.
 */
export async function runCompletion(
  line: ExecLine,
  options: RunCompletionOptions = {},
): Promise<CompletionRun> {
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  let attempts = 0;
  while (true) {
    attempts++;
    const timeoutMs = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
    const result = await runWithDeadline(line, {
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      env: { ...COMPLETION_ENV },
    });
    const completion = parseCompletion(result.stdout, result.stderr);
    const cutShort = result.code === 0 && completion.stats === null;
    if (!cutShort || attempts >= MAX_COMPLETION_ATTEMPTS) return { result, completion, attempts };
  }
}
