import { join } from "node:path";
import { matchesAny } from "./glob.ts";
import { HubStore } from "./store.ts";

/** A hub model as configured: `hf_repo`, `revision`, `include`. */
export interface HubModelRef {
  /** The hub repo, `org/name`. */
  readonly repo: string;
  /** Branch, tag or commit sha. */
  readonly revision: string;
  /** Globs over repo paths; the first matching `.gguf` (in byte order) is the model. */
  readonly include: readonly string[];
}

/** Where a bootstrapped model's GGUF is, or why there is none. */
export type HubModelFile =
  | { readonly path: string; readonly missing?: undefined }
  | { readonly path?: undefined; readonly missing: string };

/**
 * The GGUF file of a bootstrapped hub model: the first included `.gguf` (in byte order, so
 * `*-00001-of-*.gguf` comes first for split models) of the snapshot that `refs/<revision>`
 * points at (or of the commit, for a sha revision). Synchronous and local: it reads one ref
 * and lists one snapshot. `resolveModelFile` (src/models) turns `missing` into its error.
 *
 * @example
 * ```ts
 * const found = findHubModelFile({ repo: "org/name", revision: "main", include: ["*.gguf"] }, home);
 * if (found.missing !== undefined) console.error(found.missing);
 * ```
 */
export function findHubModelFile(model: HubModelRef, home: string): HubModelFile {
  const store = new HubStore(join(home, "hub"));
  const commit = store.localCommit(model.repo, model.revision);
  if (commit === undefined) {
    return { missing: `${model.repo}@${model.revision} is not bootstrapped` };
  }
  const gguf = store.snapshotFiles(model.repo, commit)
    .find((file) => file.path.endsWith(".gguf") && matchesAny(file.path, model.include));
  if (!gguf) {
    return {
      missing: `the snapshot ${model.repo}@${commit} has no .gguf file matching ` +
        JSON.stringify(model.include),
    };
  }
  return { path: gguf.localPath };
}
