import { join } from "node:path";
import type { Config } from "../src/config/mod.ts";
import { UsageError } from "../src/errors.ts";
import { matchesAny } from "./glob.ts";
import { ModelNotBootstrappedError } from "./plan.ts";
import { HubStore } from "./store.ts";
import { statOrUndefined } from "./_util.ts";

/** Options for {@linkcode resolveModelPath}. */
export interface ResolveModelPathOptions {
  /** Absolute `$EDGELLM_HOME`. */
  home: string;
}

/**
 * The absolute path of a configured model's GGUF file, for the supervisor and `run`:
 * for `path = ...` the path itself; for `hf_repo` the first included `.gguf` (in byte order,
 * so `*-00001-of-*.gguf` comes first for split models) of the snapshot that `refs/<revision>`
 * points at (or of the commit, for a sha revision). Reads only local files.
 *
 * @throws {UsageError} when `id` is not a configured model.
 * @throws {ModelNotBootstrappedError} when the file is not there ("run `edgellm bootstrap`").
 */
export async function resolveModelPath(
  config: Config,
  id: string,
  options: ResolveModelPathOptions,
): Promise<string> {
  const model = config.models[id];
  if (!model) {
    const known = Object.keys(config.models).map((m) => `"${m}"`).join(", ") || "none";
    throw new UsageError(`Cannot find model "${id}" in the configuration (defined: ${known})`);
  }
  if (model.path !== undefined) {
    if (!(await statOrUndefined(model.path))?.isFile) {
      throw new ModelNotBootstrappedError(id, `the file '${model.path}' does not exist`);
    }
    return model.path;
  }
  const repo = model.hf_repo as string;
  const store = new HubStore(join(options.home, "hub"));
  const commit = await store.localCommit(repo, model.revision);
  const hint = "run `edgellm bootstrap` first";
  if (commit === undefined) {
    throw new ModelNotBootstrappedError(
      id,
      `${repo}@${model.revision} is not bootstrapped; ${hint}`,
    );
  }
  const gguf = (await store.snapshotFiles(repo, commit))
    .find((file) => file.path.endsWith(".gguf") && matchesAny(file.path, model.include));
  if (!gguf) {
    throw new ModelNotBootstrappedError(
      id,
      `the snapshot ${repo}@${commit} has no .gguf file matching ` +
        `${JSON.stringify(model.include)}; ${hint}`,
    );
  }
  return gguf.localPath;
}
