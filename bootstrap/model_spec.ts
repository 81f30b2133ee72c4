import type { Config } from "../src/config/mod.ts";
import { UsageError } from "../src/errors.ts";
import { assertSafeRepoId, assertSafeRevision, UnsafePathError } from "./repo_path.ts";

/** A model fetched from the hub. */
export interface HubModelSpec {
  /** Tells the two kinds of {@linkcode ModelSpec} apart. */
  readonly kind: "hub";
  /** The `[models.<id>]` key, or the repo for an ad hoc `--hf-repo`. */
  readonly id: string;
  /** The hub repo, `org/name`. */
  readonly repo: string;
  /** Branch, tag or commit sha. */
  readonly revision: string;
  /** Globs over repo paths. */
  readonly include: readonly string[];
}

/** A model that is a local file (`path = ...`): only checked to exist. */
export interface PathModelSpec {
  /** Tells the two kinds of {@linkcode ModelSpec} apart. */
  readonly kind: "path";
  /** The `[models.<id>]` key. */
  readonly id: string;
  /** The absolute path of the GGUF file. */
  readonly path: string;
}

/** What a bootstrap works on. */
export type ModelSpec = HubModelSpec | PathModelSpec;

/** `--hf-repo ORG/NAME [--revision R] [--include GLOB]...`. */
export interface AdHocModel {
  /** `--hf-repo`: the hub repo, `org/name`; without it the configured models are used. */
  hfRepo?: string | undefined;
  /** `--revision`: branch, tag or commit sha. @default {"main"} */
  revision?: string | undefined;
  /** `--include`: globs over repo paths. @default {["*.gguf"]} */
  include?: readonly string[] | undefined;
}

/** The default `include` of an ad hoc model, as in `[models.*]`. */
const DEFAULT_INCLUDE = ["*.gguf"];

/**
 * The models a bootstrap works on: the ad hoc `--hf-repo` when given, else every
 * `[models.*]` of the configuration (optionally only `ids`).
 *
 * @throws {UsageError} for `--revision`/`--include` without `--hf-repo`, a bad repo id or
 * revision, or an unknown id.
 */
export function modelSpecs(
  config: Config,
  options: AdHocModel & { ids?: readonly string[] | undefined } = {},
): ModelSpec[] {
  if (options.hfRepo === undefined) {
    if (options.revision !== undefined || options.include?.length) {
      throw new UsageError("Cannot use --revision or --include without --hf-repo ORG/NAME");
    }
    const ids = options.ids?.length ? options.ids : Object.keys(config.models);
    return ids.map((id) => {
      const model = config.models[id];
      if (!model) {
        const known = Object.keys(config.models).map((m) => `"${m}"`).join(", ") || "none";
        throw new UsageError(`Cannot find model "${id}" in the configuration (defined: ${known})`);
      }
      if (model.path !== undefined) return { kind: "path", id, path: model.path };
      return {
        kind: "hub",
        id,
        repo: model.hf_repo as string,
        revision: model.revision,
        include: model.include,
      };
    });
  }
  const revision = options.revision ?? "main";
  try {
    assertSafeRepoId(options.hfRepo);
    assertSafeRevision(revision);
  } catch (error) {
    if (!(error instanceof UnsafePathError)) throw error;
    throw new UsageError(`Cannot use --hf-repo/--revision: ${error.message}`, { cause: error });
  }
  const include = options.include?.length ? options.include : DEFAULT_INCLUDE;
  return [{ kind: "hub", id: options.hfRepo, repo: options.hfRepo, revision, include }];
}
