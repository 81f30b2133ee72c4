import { basename, dirname, join } from "node:path";
import { CliError, ExitCode } from "../src/errors.ts";
import type { Logger } from "../src/log/mod.ts";
import { bundleFilePath, type BundleManifest, MANIFEST_NAME } from "./bundle_manifest.ts";
import { ensureFreeSpace } from "./disk_space.ts";
import { ChecksumMismatchError } from "./download.ts";
import type { ModelSpec } from "./model_spec.ts";
import { ModelNotBootstrappedError, planModel, type PlannedFile } from "./plan.ts";
import { createProgress, type Progress } from "./progress.ts";
import { sha256File } from "../src/natives/sha256_file.ts";
import { ContentHasher, expectedDigest, hashFilePrefix } from "./repo_file.ts";
import { bootstrapPaths } from "./run_bootstrap.ts";
import { loadState } from "./state_file.ts";
import { HubStore } from "./store.ts";
import { TarWriter } from "./tar_writer.ts";
import { removeIfExists, syncDir, writeFileAtomic } from "./_util.ts";

/** Options for {@linkcode exportBundle}. */
export interface ExportBundleOptions {
  /** Absolute `$EDGELLM_HOME`. */
  home: string;
  /** Receives progress lines and what was written. */
  logger: Logger;
  /** Reports bytes as they are written. @default {createProgress({ logger })} */
  progress?: Progress | undefined;
  /** Stops the export; an interrupted bundle has no manifest, so `--from` refuses it. */
  signal?: AbortSignal | undefined;
  /** Free bytes of a folder's file system. @default {statfs} */
  freeBytes?: ((dir: string) => Promise<number>) | undefined;
}

/** What `bundle export` wrote. */
export interface ExportSummary {
  /** The folder or `.tar` file written. */
  out: string;
  /** A folder, or one tar archive (when `out` ends in `.tar`). */
  format: "dir" | "tar";
  /** Each model exported: its id, repo, commit, file count and bytes. */
  models: { id: string; repo: string; commit: string; files: number; bytes: number }[];
  /** Files over all models. */
  files: number;
  /** Bytes of model files over all models (the manifest not counted). */
  bytes: number;
}

interface Item {
  readonly repo: string;
  readonly commit: string;
  readonly file: PlannedFile;
  /** sha256 of the content: the blob name for LFS files, else hashed beforehand. */
  readonly sha256: string;
}

/**
 * Writes the models (hub models only; `path` models are local files already) with a manifest
 * to a folder or, for a name ending in `.tar`, a tar file, for `bootstrap --from` on an
 * air-gapped device. Reads only the local store (never the network) and re-verifies every
 * blob while writing it. A folder's `manifest.json` is written last; a tar is written as
 * `<out>.partial` (manifest first, for streaming readers) and renamed when complete. Nothing
 * is written outside `out`.
 *
 * @throws {ModelNotBootstrappedError} when a model is not completely in the store.
 * @throws {ChecksumMismatchError} when a blob of the store is corrupt.
 */
export async function exportBundle(
  specs: readonly ModelSpec[],
  out: string,
  options: ExportBundleOptions,
): Promise<ExportSummary> {
  const paths = bootstrapPaths(options.home);
  const store = new HubStore(paths.hub);
  const state = await loadState(paths.stateFile, { logger: options.logger });
  const progress = options.progress ?? createProgress({ logger: options.logger });
  const manifest: BundleManifest = {
    format: "edgellm-bundle",
    version: 1,
    created_at: new Date().toISOString(),
    models: [],
  };
  const items = new Map<string, Item>();
  for (const spec of specs) {
    if (spec.kind === "path") {
      options.logger.warn("skipping a path model: it is a local file, copy it yourself", {
        model: spec.id,
        path: spec.path,
      });
      continue;
    }
    const plan = await planModel(spec, { client: undefined, store, state });
    const absent = plan.files.filter((file) => file.status !== "present");
    if (absent.length > 0) {
      throw new ModelNotBootstrappedError(
        spec.id,
        `${absent.map((f) => f.path).join(", ")} of ${spec.repo}@${plan.commit} is not in ` +
          "the store; run `edgellm bootstrap` first",
      );
    }
    const files = [];
    for (const file of plan.files) {
      const sha256 = file.sha256 ?? (await sha256File(store.blobPath(spec.repo, file.etag))).sha256;
      files.push({ path: file.path, size: file.size, sha256, etag: file.etag });
      items.set(bundleFilePath(spec.repo, plan.commit, file.path), {
        repo: spec.repo,
        commit: plan.commit,
        file,
        sha256,
      });
    }
    manifest.models.push({
      id: spec.id,
      repo: spec.repo,
      revision: spec.revision,
      commit: plan.commit,
      files,
    });
  }
  if (manifest.models.length === 0) {
    throw new CliError("Cannot export: no hub model selected", ExitCode.Usage);
  }
  const total = [...items.values()].reduce((sum, item) => sum + item.file.size, 0);
  const tar = out.endsWith(".tar");
  const target = tar ? dirname(out) : out;
  await Deno.mkdir(target, { recursive: true });
  await ensureFreeSpace(target, total, {
    what: `the bundle (${items.size} files)`,
    ...(options.freeBytes ? { freeBytes: options.freeBytes } : {}),
  });
  const copy = (item: Item, sink: (bytes: Uint8Array) => Promise<void>) =>
    copyVerified(store, item, { sink, progress, signal: options.signal });
  const manifestText = JSON.stringify(manifest, null, 2) + "\n";
  if (tar) {
    const partial = join(target, `${basename(out)}.partial`);
    try {
      {
        using file = await Deno.open(partial, { write: true, create: true, truncate: true });
        const writer = new TarWriter(file);
        const bytes = new TextEncoder().encode(manifestText);
        await writer.add(MANIFEST_NAME, { size: bytes.length, write: (sink) => sink(bytes) });
        for (const [path, item] of items) {
          await writer.add(path, { size: item.file.size, write: (sink) => copy(item, sink) });
        }
        await writer.finish();
        await file.sync();
      }
      await Deno.rename(partial, out);
      await syncDir(target);
    } catch (error) {
      await removeIfExists(partial);
      throw error;
    }
  } else {
    // A previous manifest would vouch for files being replaced: drop it first.
    await removeIfExists(join(out, MANIFEST_NAME));
    for (const [path, item] of items) {
      const final = join(out, path);
      await Deno.mkdir(dirname(final), { recursive: true });
      const partial = `${final}.partial`;
      {
        using file = await Deno.open(partial, { write: true, create: true, truncate: true });
        await copy(item, async (bytes) => {
          let written = 0;
          while (written < bytes.length) written += await file.write(bytes.subarray(written));
        });
        await file.sync();
      }
      await Deno.rename(partial, final);
    }
    await writeFileAtomic(join(out, MANIFEST_NAME), manifestText);
  }
  options.logger.info("bundle written", { out, files: items.size, bytes: total });
  return {
    out,
    format: tar ? "tar" : "dir",
    models: manifest.models.map((m) => ({
      id: m.id,
      repo: m.repo,
      commit: m.commit,
      files: m.files.length,
      bytes: m.files.reduce((sum, f) => sum + f.size, 0),
    })),
    files: items.size,
    bytes: total,
  };
}

/** Streams a blob into `sink`, proving it still matches its name and sha256 as it goes. */
async function copyVerified(
  store: HubStore,
  item: Item,
  options: {
    sink: (bytes: Uint8Array) => Promise<void>;
    progress: Progress;
    signal?: AbortSignal | undefined;
  },
): Promise<void> {
  const { repo, file } = item;
  const expected = expectedDigest(file);
  const hasher = new ContentHasher(expected.algorithm, file.size, true);
  using blob = await Deno.open(store.blobPath(repo, file.etag), { read: true });
  options.progress.start({ repo, path: file.path, size: file.size, done: 0 });
  let ok = false;
  try {
    await hashFilePrefix(blob, hasher, {
      length: file.size,
      onChunk: async (chunk) => {
        await options.sink(chunk);
        options.progress.advance(chunk.length);
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const digest = hasher.digest();
    const sha256 = digest.sha256 ?? digest.hex;
    if (digest.hex !== expected.hex || sha256 !== item.sha256) {
      throw new ChecksumMismatchError(repo, file.path, {
        expected,
        actual: digest.hex,
        context: `the store's blob is corrupt: delete '${store.blobPath(repo, file.etag)}' ` +
          "and run `edgellm bootstrap`",
      });
    }
    ok = true;
  } finally {
    options.progress.finish(ok);
  }
}
