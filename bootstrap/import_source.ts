import { join } from "node:path";
import { CliError, ExitCode, UsageError } from "../src/errors.ts";
import { bundleFilePath, BundleManifestSchema, MANIFEST_NAME } from "./bundle_manifest.ts";
import { matchesAny } from "./glob.ts";
import type { HubModelSpec } from "./model_spec.ts";
import type { RepoFile } from "./repo_file.ts";
import { assertSafeCommit, assertSafeRepoPath } from "./repo_path.ts";
import { HubStore } from "./store.ts";
import { isNotFound, statOrUndefined } from "./_util.ts";
import { errorMessage } from "../src/_util/error_message.ts";

/** A file of an offline source, and where its bytes are. */
export interface SourceFile extends RepoFile {
  /** Absolute path of the content in the source. */
  readonly localPath: string;
}

/** An offline source of models: a bundle folder or a Hugging Face cache. */
export interface ImportSource {
  /** What it is and where, for messages. */
  readonly description: string;
  /**
   * The commit and the files of a model in the source, selected by `include`.
   *
   * @throws {CliError} (exit 1) when the source does not have it.
   */
  find(spec: HubModelSpec): { commit: string; files: SourceFile[] };
}

async function hasRepoFolders(dir: string): Promise<boolean> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && entry.name.startsWith("models--")) return true;
    }
  } catch (error) {
    if (isNotFound(error) || error instanceof Deno.errors.NotADirectory) return false;
    throw error;
  }
  return false;
}

function missing(spec: HubModelSpec, where: string, detail: string): CliError {
  return new CliError(
    `Cannot import model "${spec.id}" (${spec.repo}@${spec.revision}) from ${where}: ${detail}`,
    ExitCode.Failed,
  );
}

function selected<T extends { path: string }>(spec: HubModelSpec, files: readonly T[]): T[] {
  return files.filter((file) => matchesAny(file.path, spec.include));
}

async function openBundle(dir: string): Promise<ImportSource> {
  const path = join(dir, MANIFEST_NAME);
  let manifest;
  try {
    manifest = BundleManifestSchema.parse(JSON.parse(await Deno.readTextFile(path)));
  } catch (error) {
    throw new CliError(
      `Cannot import from '${dir}': its ${MANIFEST_NAME} is not a valid bundle manifest ` +
        `(${errorMessage(error).slice(0, 300)})`,
      ExitCode.Failed,
      { cause: error },
    );
  }
  const description = `the bundle '${dir}'`;
  return {
    description,
    find(spec) {
      const model = manifest.models.find((m) =>
        m.repo === spec.repo && (m.revision === spec.revision || m.commit === spec.revision)
      );
      if (!model) {
        const has = manifest.models.map((m) => `${m.repo}@${m.revision}`).join(", ") || "none";
        throw missing(spec, description, `it is not in the bundle (has: ${has})`);
      }
      assertSafeCommit(model.commit);
      const files = selected(spec, model.files).map((file) => {
        assertSafeRepoPath(file.path);
        const localPath = join(dir, bundleFilePath(spec.repo, model.commit, file.path));
        return { ...file, localPath };
      });
      if (files.length === 0) {
        throw missing(spec, description, `no file matches ${JSON.stringify(spec.include)}`);
      }
      return { commit: model.commit, files };
    },
  };
}

function openHfCache(root: string): ImportSource {
  const store = new HubStore(root);
  const description = `the Hugging Face cache '${root}'`;
  return {
    description,
    find(spec) {
      const commit = store.localCommit(spec.repo, spec.revision);
      if (commit === undefined) {
        throw missing(spec, description, `it has no ${store.refPath(spec.repo, spec.revision)}`);
      }
      const files: SourceFile[] = [];
      for (const file of selected(spec, store.snapshotFiles(spec.repo, commit))) {
        const etag = file.etag;
        if (etag === undefined || !/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(etag)) {
          throw missing(
            spec,
            description,
            `'${file.localPath}' is not a link to a blob, so it cannot be verified`,
          );
        }
        files.push({
          path: file.path,
          size: file.size,
          etag,
          sha256: etag.length === 64 ? etag : null,
          localPath: file.localPath,
        });
      }
      if (files.length === 0) {
        throw missing(
          spec,
          description,
          `its snapshot ${commit} has no file matching ${JSON.stringify(spec.include)}`,
        );
      }
      return { commit, files };
    },
  };
}

/**
 * Opens a folder for `bootstrap --from`: a bundle (it has `manifest.json`), a Hugging Face
 * cache (`models--*` folders, as in `~/.cache/huggingface/hub`), or a folder holding one in
 * `hub/` (as `~/.cache/huggingface`).
 *
 * @throws {UsageError} when the folder is none of these.
 */
export async function openImportSource(dir: string): Promise<ImportSource> {
  // The folder first: a refused read then names it rather than a file inside it.
  if (!(await statOrUndefined(dir))?.isDirectory) {
    throw new UsageError(`Cannot import from '${dir}': it is not a folder`);
  }
  if ((await statOrUndefined(join(dir, MANIFEST_NAME)))?.isFile) return await openBundle(dir);
  if (await hasRepoFolders(dir)) return openHfCache(dir);
  if (await hasRepoFolders(join(dir, "hub"))) return openHfCache(join(dir, "hub"));
  throw new UsageError(
    `Cannot import from '${dir}': it has neither a ${MANIFEST_NAME} (written by ` +
      "`edgellm bundle export`) nor models--* folders (a Hugging Face cache such as " +
      "~/.cache/huggingface/hub)",
  );
}
