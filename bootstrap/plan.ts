import { CliError, ExitCode } from "../src/errors.ts";
import { matchesAny } from "./glob.ts";
import type { HubClient } from "./hub_client.ts";
import type { HubModelSpec } from "./model_spec.ts";
import type { RepoFile } from "./repo_file.ts";
import { isCommitSha } from "./repo_path.ts";
import { type BootstrapState, listingKey } from "./state_file.ts";
import type { HubStore } from "./store.ts";
import { statOrUndefined } from "./_util.ts";

/** A model that cannot be used yet: not (completely) in the store. */
export class ModelNotBootstrappedError extends CliError {
  /** The model id. */
  readonly model: string;

  /** Constructs a new instance; `detail` says what is missing. */
  constructor(model: string, detail: string) {
    super(`Cannot use model "${model}": ${detail}`, ExitCode.Failed);
    this.name = "ModelNotBootstrappedError";
    this.model = model;
  }
}

/** What to do about a model missing from the store when the network is not used. */
export const NOT_IN_STORE_HINT =
  "run `edgellm bootstrap` with network (not --offline or HF_HUB_OFFLINE), or with --from DIR";

/** Where a selected file stands in the store. */
export type FileStatus = "present" | "partial" | "missing";

/** A selected file and its local status. */
export interface PlannedFile extends RepoFile {
  readonly status: FileStatus;
  /** Bytes already on disk: the whole size when present, the partial's size when partial. */
  readonly have: number;
}

/** What a bootstrap of one model will do. */
export interface ModelPlan {
  readonly spec: HubModelSpec;
  readonly commit: string;
  readonly files: readonly PlannedFile[];
}

/** What planning needs. */
export interface PlanContext {
  /** The hub, or `undefined` offline (then nothing touches the network). */
  readonly client: HubClient | undefined;
  readonly store: HubStore;
  /** Listings are read from and added to it. */
  readonly state: BootstrapState;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Finds the commit of a model (no request for a commit sha, one for a branch or tag, none
 * offline), its files (from the state's listing of that commit, else the hub's tree, else,
 * offline, the local snapshot), selects them by `include` and checks which are present.
 *
 * @throws {ModelNotBootstrappedError} offline, when the store lacks the revision.
 * @throws {CliError} (exit 1) when no file matches `include`.
 * @throws {import("./retry.ts").HubError} for a failed hub request.
 */
export async function planModel(spec: HubModelSpec, context: PlanContext): Promise<ModelPlan> {
  const { client, store, state } = context;
  const { repo, revision } = spec;
  const options = context.signal ? { signal: context.signal } : {};
  let commit: string | undefined;
  if (isCommitSha(revision)) commit = revision;
  else if (client) commit = await client.resolveRevision(repo, revision, options);
  else commit = store.localCommit(repo, revision);
  if (commit === undefined) {
    throw new ModelNotBootstrappedError(
      spec.id,
      `${repo}@${revision} is not in the store; ${NOT_IN_STORE_HINT}`,
    );
  }
  const key = listingKey(repo, commit);
  let listing = state.listings[key];
  if (listing === undefined) {
    if (client) {
      listing = await client.listFiles(repo, commit, options);
      state.listings[key] = listing;
    } else {
      listing = localListing(store, repo, commit);
    }
  }
  const selected = listing.filter((file) => matchesAny(file.path, spec.include));
  if (selected.length === 0) {
    if (!client) {
      throw new ModelNotBootstrappedError(
        spec.id,
        `no file of ${repo}@${commit} matching ${JSON.stringify(spec.include)} is in the ` +
          `store; ${NOT_IN_STORE_HINT}`,
      );
    }
    const some = listing.slice(0, 10).map((f) => f.path).join(", ");
    throw new CliError(
      `Cannot bootstrap model "${spec.id}": no file of ${repo}@${commit} matches include ` +
        `${JSON.stringify(spec.include)} (files: ${some || "none"}). Fix "include".`,
      ExitCode.Failed,
    );
  }
  const files: PlannedFile[] = [];
  for (const file of selected) {
    const blobSize = await store.blobSize(repo, file.etag);
    if (blobSize === file.size) {
      files.push({ ...file, status: "present", have: file.size });
      continue;
    }
    const partial = (await statOrUndefined(store.incompletePath(repo, file.etag)))?.size ?? 0;
    files.push({ ...file, status: partial > 0 ? "partial" : "missing", have: partial });
  }
  return { spec, commit, files };
}

/** The files of a local snapshot as a listing (offline, without the state's listing). */
function localListing(store: HubStore, repo: string, commit: string): RepoFile[] {
  const files: RepoFile[] = [];
  for (const file of store.snapshotFiles(repo, commit)) {
    if (file.etag === undefined || !/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(file.etag)) continue;
    const sha256 = file.etag.length === 64 ? file.etag : null;
    files.push({ path: file.path, size: file.size, etag: file.etag, sha256 });
  }
  return files;
}
