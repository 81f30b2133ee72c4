import { join } from "node:path";
import { CliError, ExitCode } from "../src/errors.ts";
import type { Logger } from "../src/log/mod.ts";
import { downloadFile, downloadKey } from "./download.ts";
import { HubClient } from "./hub_client.ts";
import { importFile } from "./import_file.ts";
import { type ImportSource, openImportSource } from "./import_source.ts";
import { acquireLock } from "./lock.ts";
import type { HubModelSpec, ModelSpec, PathModelSpec } from "./model_spec.ts";
import { ModelNotBootstrappedError, type ModelPlan, NOT_IN_STORE_HINT, planModel } from "./plan.ts";
import { createProgress, type Progress } from "./progress.ts";
import type { RetryOptions } from "./retry.ts";
import { type BootstrapState, emptyState, loadState, saveState } from "./state_file.ts";
import { HubStore } from "./store.ts";
import { isNotFound, removeIfExists, statOrUndefined } from "./_util.ts";

/** The bootstrapper's files and folders under `$EDGELLM_HOME`, as absolute paths. */
export interface BootstrapPaths {
  /** The store in the Hugging Face cache layout, `hub/`. */
  hub: string;
  /** Progress and byte totals across runs, `state/bootstrap.json`. */
  stateFile: string;
  /** Held while a bootstrap runs, `state/bootstrap.lock`. */
  lockFile: string;
}

/** Where the bootstrapper keeps things under `$EDGELLM_HOME`. */
export function bootstrapPaths(home: string): BootstrapPaths {
  return {
    hub: join(home, "hub"),
    stateFile: join(home, "state", "bootstrap.json"),
    lockFile: join(home, "state", "bootstrap.lock"),
  };
}

/** Where models come from and how to reach it. */
export interface HubSettings {
  /** The hub URL. */
  endpoint: string;
  /** The bearer token, if any. */
  token?: string | undefined;
  /** The variable the token comes from, for messages. @default {"HF_TOKEN"} */
  tokenEnv?: string | undefined;
}

/** Options for {@linkcode runBootstrap} and {@linkcode planBootstrap}. */
export interface BootstrapOptions {
  /** Absolute `$EDGELLM_HOME`. */
  home: string;
  /** The hub to download from (`[hub]` with its token resolved). */
  hub: HubSettings;
  /** Never touch the network; fail only if something is missing. @default {false} */
  offline?: boolean | undefined;
  /** Import from this folder (bundle or HF cache) instead of the network. */
  from?: string | undefined;
  /** Discard partial downloads and state first. @default {false} */
  clean?: boolean | undefined;
  /** How long to wait for another bootstrap's lock. @default {0} */
  waitMs?: number | undefined;
  /** Receives progress lines, warnings and the per-model results. */
  logger: Logger;
  /** Reports bytes as they arrive. @default {createProgress({ logger })} */
  progress?: Progress | undefined;
  /** Aborted on SIGINT: downloads checkpoint and stop, the lock is released. */
  signal?: AbortSignal | undefined;
  /**
   * Told about every byte received from the network. (Across processes, `state/bootstrap.json`
   * keeps the totals behind `edgellm_bootstrap_bytes_total`.)
   */
  onBytes?: ((bytes: number) => void) | undefined;
  /** Overrides the retry policy (tests). */
  retry?: RetryOptions | undefined;
  /** Free bytes of a folder's file system. @default {statfs} */
  freeBytes?: ((dir: string) => Promise<number>) | undefined;
  /** How long a transfer may stall before it is retried. @default {30000} */
  idleTimeoutMs?: number | undefined;
}

/** What happened to one model. */
export interface ModelSummary {
  /** The model's id: its `[models.<id>]` key, or the repo for `--hf-repo`. */
  id: string;
  /** The hub repo (`org/name`); `null` for `path` models. */
  repo: string | null;
  /** The branch, tag or commit asked for; `null` for `path` models. */
  revision: string | null;
  /** The commit the revision resolved to; `null` for `path` models. */
  commit: string | null;
  /** For `path` models, the file. */
  path: string | null;
  /** Files the model has in the store after this run. */
  files: number;
  /** Received from the network in this run. */
  bytes_downloaded: number;
  /** Copied from a `--from` source in this run. */
  bytes_imported: number;
  /** Already in the store (complete files, and resumed partials' prefixes). */
  bytes_reused: number;
}

/** The result of a bootstrap, printed by `--json`. */
export interface BootstrapSummary {
  /** One entry per model, in the order they were given. */
  models: ModelSummary[];
  /** Files over all models. */
  files: number;
  /** Bytes received from the network in this run, over all models. */
  bytes_downloaded: number;
  /** Bytes copied from a `--from` source in this run, over all models. */
  bytes_imported: number;
  /** Bytes already in the store, over all models. */
  bytes_reused: number;
  /** Wall-clock time of the run, in seconds. */
  duration_s: number;
}

interface RunContext {
  readonly options: BootstrapOptions;
  readonly store: HubStore;
  readonly state: BootstrapState;
  readonly client: HubClient | undefined;
  readonly source: ImportSource | undefined;
  readonly progress: Progress;
  readonly save: () => Promise<void>;
}

function clientFor(options: BootstrapOptions): HubClient | undefined {
  if (options.offline || options.from !== undefined) return undefined;
  return new HubClient({
    endpoint: options.hub.endpoint,
    token: options.hub.token,
    ...(options.hub.tokenEnv ? { tokenEnv: options.hub.tokenEnv } : {}),
    retry: {
      ...options.retry,
      onRetry: (error, attempt, delayMs) => {
        options.logger.warn("hub request failed; retrying", {
          attempt,
          wait_ms: Math.round(delayMs),
          reason: error.message,
        });
      },
    },
  });
}

/**
 * Brings every model into the store: fetched from the hub (resumable, verified, retried),
 * imported from `from`, or, for `path` models, checked to exist. Holds
 * `state/bootstrap.lock` throughout. A model's `refs/<revision>` moves only once its whole
 * snapshot is in place. A failing model does not stop the others; the run then throws.
 *
 * Idempotent and cheap: with everything present it makes no request for a commit sha and one
 * for a branch or tag; offline, none.
 *
 * @throws {import("./lock.ts").LockBusyError} (exit 75) when another bootstrap runs.
 * @throws {CliError} the failure of a model (several: exit 75 if all are temporary, else 1).
 */
export async function runBootstrap(
  specs: readonly ModelSpec[],
  options: BootstrapOptions,
): Promise<BootstrapSummary> {
  const started = performance.now();
  const paths = bootstrapPaths(options.home);
  await Deno.mkdir(paths.hub, { recursive: true });
  await Deno.mkdir(join(options.home, "state"), { recursive: true });
  using _lock = await acquireLock(paths.lockFile, {
    waitMs: options.waitMs ?? 0,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const store = new HubStore(paths.hub);
  let state: BootstrapState;
  if (options.clean) {
    const removed = await removePartials(paths.hub);
    options.logger.info("discarded partial downloads and state", { partials: removed });
    // The byte totals stay: they back a Prometheus counter, which must never go down.
    state = emptyState((await loadState(paths.stateFile, { logger: options.logger })).totals);
  } else {
    state = await loadState(paths.stateFile, { logger: options.logger });
  }
  const context: RunContext = {
    options,
    store,
    state,
    client: clientFor(options),
    source: options.from === undefined ? undefined : await openImportSource(options.from),
    progress: options.progress ?? createProgress({ logger: options.logger }),
    save: () => saveState(paths.stateFile, state),
  };
  const models: ModelSummary[] = [];
  const failures: { id: string; error: CliError }[] = [];
  try {
    for (const spec of specs) {
      options.signal?.throwIfAborted();
      try {
        models.push(
          spec.kind === "path"
            ? await checkPathModel(spec)
            : context.source
            ? await importModel(spec, context)
            : await fetchModel(spec, context),
        );
      } catch (error) {
        if (options.signal?.aborted || !(error instanceof CliError)) throw error;
        failures.push({ id: spec.id, error });
      }
    }
  } finally {
    await pruneState(state, store);
    await context.save();
  }
  if (failures.length === 1) throw failures[0]?.error;
  if (failures.length > 1) {
    const temporary = failures.every((f) => f.error.exitCode === ExitCode.TempFail);
    throw new CliError(
      `Cannot bootstrap ${failures.length} models:\n` +
        failures.map((f) => `  - "${f.id}": ${f.error.message}`).join("\n"),
      temporary ? ExitCode.TempFail : ExitCode.Failed,
    );
  }
  return summarize(models, started);
}

function summarize(models: ModelSummary[], started: number): BootstrapSummary {
  const sum = (key: "files" | "bytes_downloaded" | "bytes_imported" | "bytes_reused") =>
    models.reduce((total, model) => total + model[key], 0);
  return {
    models,
    files: sum("files"),
    bytes_downloaded: sum("bytes_downloaded"),
    bytes_imported: sum("bytes_imported"),
    bytes_reused: sum("bytes_reused"),
    duration_s: Math.round(performance.now() - started) / 1000,
  };
}

async function checkPathModel(spec: PathModelSpec): Promise<ModelSummary> {
  const info = await statOrUndefined(spec.path);
  if (!info?.isFile) {
    throw new ModelNotBootstrappedError(spec.id, `the file '${spec.path}' does not exist`);
  }
  return {
    id: spec.id,
    repo: null,
    revision: null,
    commit: null,
    path: spec.path,
    files: 1,
    bytes_downloaded: 0,
    bytes_imported: 0,
    bytes_reused: info.size,
  };
}

function hubSummary(spec: HubModelSpec, commit: string, files: number): ModelSummary {
  return {
    id: spec.id,
    repo: spec.repo,
    revision: spec.revision,
    commit,
    path: null,
    files,
    bytes_downloaded: 0,
    bytes_imported: 0,
    bytes_reused: 0,
  };
}

/** Links the snapshot, then (last) moves the ref: the blue/green switch. */
async function publish(
  spec: HubModelSpec,
  commit: string,
  files: readonly { path: string; etag: string }[],
  store: HubStore,
): Promise<void> {
  for (const file of files) await store.linkSnapshot(spec.repo, commit, file);
  await store.writeRef(spec.repo, spec.revision, commit);
}

async function fetchModel(spec: HubModelSpec, context: RunContext): Promise<ModelSummary> {
  const { options, store, state } = context;
  const plan = await planModel(spec, {
    client: context.client,
    store,
    state,
    signal: options.signal,
  });
  if (context.client) await context.save(); // keep the listing even if the run is killed
  const summary = hubSummary(spec, plan.commit, plan.files.length);
  for (const file of plan.files) {
    // Checked again here: an earlier file of the same content may have just fetched the blob.
    if (await store.blobSize(spec.repo, file.etag) === file.size) {
      summary.bytes_reused += file.size;
      continue;
    }
    if (!context.client) {
      throw new ModelNotBootstrappedError(
        spec.id,
        `${spec.repo}/${file.path} is not in the store; ${NOT_IN_STORE_HINT}`,
      );
    }
    const received = await downloadFile({ repo: spec.repo, commit: plan.commit, file }, {
      client: context.client,
      store,
      state,
      saveState: context.save,
      progress: context.progress,
      logger: options.logger,
      signal: options.signal,
      onBytes: (bytes) => {
        state.totals.downloaded_bytes += bytes; // saved with the download's next checkpoint
        options.onBytes?.(bytes);
      },
      retry: options.retry,
      freeBytes: options.freeBytes,
      idleTimeoutMs: options.idleTimeoutMs,
    });
    summary.bytes_downloaded += received;
    summary.bytes_reused += Math.max(0, file.size - received);
  }
  await publish(spec, plan.commit, plan.files, store);
  options.logger.info("model ready", {
    model: spec.id,
    repo: spec.repo,
    revision: spec.revision,
    commit: plan.commit,
    files: plan.files.length,
    downloaded: summary.bytes_downloaded,
  });
  return summary;
}

async function importModel(spec: HubModelSpec, context: RunContext): Promise<ModelSummary> {
  const { options, store, state } = context;
  const source = context.source as ImportSource;
  const { commit, files } = source.find(spec);
  const summary = hubSummary(spec, commit, files.length);
  for (const file of files) {
    if (await store.blobSize(spec.repo, file.etag) === file.size) {
      summary.bytes_reused += file.size;
      continue;
    }
    const imported = await importFile(spec.repo, file, {
      store,
      progress: context.progress,
      signal: options.signal,
      freeBytes: options.freeBytes,
    });
    summary.bytes_imported += imported;
    state.totals.imported_bytes += imported;
    delete state.downloads[downloadKey(spec.repo, file.etag)];
    await context.save();
  }
  await publish(spec, commit, files, store);
  options.logger.info("model imported", {
    model: spec.id,
    repo: spec.repo,
    commit,
    from: source.description,
    files: files.length,
    imported: summary.bytes_imported,
  });
  return summary;
}

/**
 * Drops what the state no longer needs: downloads whose partial is gone, and listings of
 * commits without a local snapshot (after a branch moved on), so the file stays small.
 */
async function pruneState(state: BootstrapState, store: HubStore): Promise<void> {
  for (const [key, entry] of Object.entries(state.downloads)) {
    if (!await statOrUndefined(store.incompletePath(entry.repo, entry.etag))) {
      delete state.downloads[key];
    }
  }
  for (const key of Object.keys(state.listings)) {
    const match = /^([\w.-]+\/[\w.-]+)@([0-9a-f]{40})$/.exec(key);
    const [repo, commit] = match ? [match[1] as string, match[2] as string] : ["", ""];
    const inUse = match !== null && (
      await statOrUndefined(store.snapshotDir(repo, commit)) !== undefined ||
      Object.values(state.downloads).some((d) => d.repo === repo && d.commit === commit)
    );
    if (!inUse) delete state.listings[key];
  }
}

/** Removes every `blobs/*.incomplete` of the store; returns how many. */
async function removePartials(hub: string): Promise<number> {
  let removed = 0;
  try {
    for await (const repo of Deno.readDir(hub)) {
      if (!repo.isDirectory || !repo.name.startsWith("models--")) continue;
      const blobs = join(hub, repo.name, "blobs");
      try {
        for await (const entry of Deno.readDir(blobs)) {
          if (!entry.name.endsWith(".incomplete")) continue;
          await removeIfExists(join(blobs, entry.name));
          removed++;
        }
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  return removed;
}

/** A model's plan for `--dry-run`. */
export interface PlannedModel {
  /** The model's id, as in {@linkcode ModelSummary.id}. */
  id: string;
  /** The hub repo (`org/name`); `null` for `path` models. */
  repo: string | null;
  /** The branch, tag or commit asked for; `null` for `path` models. */
  revision: string | null;
  /** The commit the revision resolves to; `null` for `path` models. */
  commit: string | null;
  /** For `path` models, the file. */
  path: string | null;
  /**
   * Each file: its repo path, size in bytes, what a run would do with it (`status`) and how
   * many of its bytes the store already has (`have`).
   */
  files: { path: string; size: number; status: string; have: number }[];
  /** Bytes a real run would transfer. */
  bytes_to_fetch: number;
}

/**
 * What {@linkcode runBootstrap} would do, without taking the lock, downloading or linking: the
 * commit, files and their status per model (the same requests as a real run's planning). A
 * corrupt state file is still moved aside, as any load does.
 */
export async function planBootstrap(
  specs: readonly ModelSpec[],
  options: BootstrapOptions,
): Promise<PlannedModel[]> {
  const paths = bootstrapPaths(options.home);
  const store = new HubStore(paths.hub);
  const state = await loadState(paths.stateFile, { logger: options.logger });
  const client = clientFor(options);
  const source = options.from === undefined ? undefined : await openImportSource(options.from);
  const planned: PlannedModel[] = [];
  for (const spec of specs) {
    if (spec.kind === "path") {
      const info = await statOrUndefined(spec.path);
      planned.push({
        id: spec.id,
        repo: null,
        revision: null,
        commit: null,
        path: spec.path,
        files: [{
          path: spec.path,
          size: info?.size ?? 0,
          status: info ? "present" : "missing",
          have: info?.size ?? 0,
        }],
        bytes_to_fetch: 0,
      });
      continue;
    }
    let plan: Pick<ModelPlan, "commit" | "files">;
    if (source) {
      const found = source.find(spec);
      const files = [];
      for (const file of found.files) {
        const present = await store.blobSize(spec.repo, file.etag) === file.size;
        files.push({ ...file, status: present ? "present" as const : "missing" as const, have: 0 });
      }
      plan = { commit: found.commit, files };
    } else {
      plan = await planModel(spec, { client, store, state, signal: options.signal });
    }
    planned.push({
      id: spec.id,
      repo: spec.repo,
      revision: spec.revision,
      commit: plan.commit,
      path: null,
      files: plan.files.map(({ path, size, status, have }) => ({ path, size, status, have })),
      bytes_to_fetch: plan.files.reduce(
        (total, f) => total + (f.status === "present" ? 0 : f.size - f.have),
        0,
      ),
    });
  }
  return planned;
}
