import {
  type OneShotRequest,
  type OneShotResult,
  runOneShot,
  type RunOneShotOptions,
} from "../supervisor/run_one_shot.ts";
import type { Spawner } from "../supervisor/spawner.ts";
import { type Completion, COMPLETION_ENV, parseCompletion } from "./completion.ts";

/**
 * Runs of llama-completion before giving up on a cut-short output. llama.cpp writes the text
 * from a logging thread that it does not wait for at exit, so a run that exits 0 may have
 * lost the end of its text (its performance report, printed last, is then missing too); the
 * same seed gives the same text again, so a rerun repairs it. Measured here on a loaded
 * 2-core machine, a quarter of runs were cut (10 of 40): six runs leave well under one in
 * ten thousand completions failed, and a rerun only happens when one was cut.
 */
export const MAX_COMPLETION_ATTEMPTS = 6;

/**
 * Options for {@linkcode runCompletion}: those of `runOneShot`, with `timeoutMs` counted over
 * all attempts.
 */
export type RunCompletionOptions = RunOneShotOptions;

/** What {@linkcode runCompletion} got: the last run, its parsed output and how many runs. */
export interface CompletionRun {
  /** How the last run ended: exit code, stdout, stderr and timing. */
  result: OneShotResult;
  /** The last run's stdout parsed into text and stats. */
  completion: Completion;
  /** Runs made, 1 to {@linkcode MAX_COMPLETION_ATTEMPTS}. */
  attempts: number;
}

/**
 * Runs a `llama-completion` command line (see {@linkcode completionArgs}, with a fixed seed)
 * to the end through the sandboxed `spawner`, rerunning it while it exits 0 with its output
 * cut short, at most {@linkcode MAX_COMPLETION_ATTEMPTS} times. `request.env` gets
 * {@linkcode COMPLETION_ENV} on top. `completion.stats` is `null` after the last attempt when
 * the output is still incomplete. `edgellm run` and inference jobs both run through here.
 *
 * @throws {import("../supervisor/spawner.ts").SpawnError} when the spawn is refused or fails.
 */
export async function runCompletion(
  spawner: Spawner,
  request: OneShotRequest,
  options: RunCompletionOptions = {},
): Promise<CompletionRun> {
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  const env = { ...request.env, ...COMPLETION_ENV };
  let attempts = 0;
  while (true) {
    attempts++;
    const timeoutMs = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
    const result = await runOneShot(spawner, { ...request, env }, {
      ...options,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
    const completion = parseCompletion(result.stdout, result.stderr);
    const cutShort = result.code === 0 && result.stoppedBy === null && completion.stats === null;
    if (!cutShort || attempts >= MAX_COMPLETION_ATTEMPTS) return { result, completion, attempts };
  }
}
