import { isAbsolute, resolve } from "node:path";
import { findHubModelFile } from "../../bootstrap/model_path.ts";
import type { Config } from "../config/mod.ts";

/** Raised when a configured model has no local file to run. */
export class ModelNotAvailableError extends Error {
  /** Always `"ModelNotAvailableError"`. */
  override readonly name = "ModelNotAvailableError";
  /** The model id from `[models.<id>]`. */
  readonly model: string;

  /** Builds the error for `model`, explaining why in `message`. */
  constructor(model: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.model = model;
  }
}

/**
 * Returns the local GGUF file of a model: a configured model's `path`, or for an `hf_repo`
 * model the file bootstrapped into `<home>/hub/`. This is the one place that maps a model id
 * to a file; `run`, `doctor` and the supervisor go through it.
 *
 * @throws {ModelNotAvailableError} when the model has no local file.
 * @throws {RangeError} when `id` is not a configured model.
 */
export function resolveModelFile(id: string, config: Config, home: string): string {
  const model = config.models[id];
  if (model === undefined) {
    throw new RangeError(
      `Cannot resolve model "${id}": no [models.${id}] in the configuration; known: ${
        Object.keys(config.models).map((name) => `"${name}"`).join(", ") || "none"
      }`,
    );
  }
  if (model.path !== undefined) return model.path;
  const found = findHubModelFile({
    repo: model.hf_repo as string,
    revision: model.revision,
    include: model.include,
  }, home);
  if (found.missing !== undefined) {
    throw new ModelNotAvailableError(
      id,
      `Cannot resolve model "${id}": ${found.missing}; run \`edgellm bootstrap\``,
    );
  }
  return found.path;
}

/**
 * Turns `run --model ID-or-FILE` into a file: a configured model id goes through
 * {@linkcode resolveModelFile}; anything else is a file path, relative to the working folder.
 *
 * @throws {ModelNotAvailableError} as {@linkcode resolveModelFile} does.
 */
export function resolveModelArgument(value: string, config: Config, home: string): string {
  if (Object.hasOwn(config.models, value)) return resolveModelFile(value, config, home);
  return isAbsolute(value) ? value : resolve(value);
}
