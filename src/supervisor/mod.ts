/**
 * The supervisor: long-lived llama-server runtimes and one-shot jobs, spawned from a
 * permission-narrowed Worker, with health checks, restart budgets, logs, reload and a clean
 * shutdown. `design.md` beside this file says who owns which state.
 *
 * ## The interface the HTTP endpoint and the CLI use
 *
 * Build one with {@linkcode createSupervisor}`(config, { home, execLine, resolveModel, logger })`;
 * it takes the home's lock, stops leftovers of a killed previous instance, and starts the
 * `auto_start` runtimes. Then, on the returned {@linkcode Supervisor}:
 *
 * | call | does | HTTP |
 * | --- | --- | --- |
 * | `list(): RuntimeSnapshot[]` | every runtime, configuration order | `GET /runtimes` |
 * | `get(id): RuntimeSnapshot \| undefined` | one runtime | `GET /runtimes/:id` |
 * | `start(id)`, `stop(id)`, `restart(id): Promise<RuntimeSnapshot>` | control; throw {@linkcode RuntimeNotFoundError}. `start` resolves once `starting` (a manual start resets the restart budget), `stop` once the process has exited | `POST /runtimes/:id/start\|stop\|restart` |
 * | `upstream(id): URL \| undefined` | base URL of a `ready` llama-server | `/v1/*` proxy |
 * | `subscribe(listener): () => void` | every {@linkcode RuntimeEvent}, synchronously, in order | `GET /events` |
 * | `logs(id, { tail }): LogLine[]` | recent lines | `GET /runtimes/:id/logs` |
 * | `follow(id, { signal }): AsyncIterableIterator<LogLine>` | new lines as they come, until aborted | `…/logs?follow=1` |
 * | `config(): Config` | the configuration in use (the last reload accepted) | limits, token |
 * | `reload(config): Promise<ReloadPlan>` | apply a new configuration; throws `ConfigError` and changes nothing if it cannot run | SIGHUP |
 * | `shutdown(): Promise<void>` | cancel jobs, stop runtimes within their grace, release the lock | SIGTERM |
 * | `jobs.submit(body): Promise<JobSnapshot>` | validate and queue; throws {@linkcode InvalidJobError} (400) | `POST /jobs` |
 * | `jobs.get(id): JobSnapshot \| undefined` | one job | `GET /jobs/:id` |
 * | `jobs.cancel(id): Promise<JobSnapshot \| undefined>` | cancel; resolves when it has ended | `DELETE /jobs/:id` |
 * | `jobs.wait(id): Promise<JobSnapshot \| undefined>` | resolves when it has ended | |
 *
 * One process to its end outside a supervisor (`edgellm run`): a {@linkcode Spawner} of exactly
 * the executables needed, then {@linkcode runOneShot}`(spawner, request, { timeoutMs, signal })`,
 * the deadline path (SIGTERM, grace, SIGKILL) that jobs use too.
 *
 * Metrics: `RuntimeSnapshot.restarts.total` counts automatic restarts (a counter);
 * `restarts.used` of `restarts.budget` is the budget spent within `restarts.window_s`.
 *
 * @example
 * ```ts
 * import { createSupervisor } from "./mod.ts";
 *
 * const supervisor = await createSupervisor(config, {
 *   home: "/var/lib/edgellm",
 *   execLine: (executable) => execLine({ bundle, executable }),
 *   resolveModel: (config, id) => resolveModelFile(id, config, "/var/lib/edgellm"),
 * });
 * const stop = supervisor.subscribe((e) => console.log(`${e.runtime}: ${e.from} → ${e.to}`));
 * const lines = supervisor.follow("chat", { signal: AbortSignal.timeout(10_000) });
 * for await (const line of lines) console.log(line.line);
 * stop();
 * await supervisor.shutdown();
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./job_manager.ts";
export * from "./job_spec.ts";
export * from "./log_ring.ts";
export * from "./prepare_config.ts";
export * from "./reload_plan.ts";
export * from "./run_one_shot.ts";
export * from "./spawner.ts";
export * from "./supervisor.ts";
export * from "./supervisor_paths.ts";
export * from "./types.ts";
