/**
 * The bootstrapper: fetches GGUF models from a Hugging Face hub (or a bundle or HF cache
 * folder) into `$EDGELLM_HOME/hub` in the Hugging Face cache layout — resumable, verified,
 * idempotent and safe to rerun from cron — and exports them for air-gapped devices.
 *
 * Other parts find a model's GGUF file through `resolveModelFile` (src/models), which calls
 * {@linkcode findHubModelFile} for hub models. The bytes it brought in over all runs are kept
 * in its state file; `serve`'s `/metrics` reads them with {@linkcode readStateTotals}.
 *
 * @module
 */
export { bootstrapCommand } from "./bootstrap_command.ts";
export { bundleCommand } from "./bundle_command.ts";
export { ChecksumMismatchError } from "./download.ts";
export type { ExpectedDigest, RepoFile } from "./repo_file.ts";
export { DiskSpaceError } from "./disk_space.ts";
export { exportBundle, type ExportBundleOptions, type ExportSummary } from "./export_bundle.ts";
export {
  type FileResponse,
  HubClient,
  type HubClientOptions,
  type OpenFileOptions,
  type RequestOptions,
} from "./hub_client.ts";
export { LockBusyError } from "./lock.ts";
export {
  type AdHocModel,
  type HubModelSpec,
  type ModelSpec,
  modelSpecs,
  type PathModelSpec,
} from "./model_spec.ts";
export { findHubModelFile, type HubModelFile, type HubModelRef } from "./model_path.ts";
export { ModelNotBootstrappedError } from "./plan.ts";
export { UnsafePathError } from "./repo_path.ts";
export { type BootstrapTotals, readStateTotals } from "./state_file.ts";
export type { Progress } from "./progress.ts";
export { HubError, type RetryOptions } from "./retry.ts";
export {
  type BootstrapOptions,
  type BootstrapPaths,
  bootstrapPaths,
  type BootstrapSummary,
  type HubSettings,
  type ModelSummary,
  planBootstrap,
  type PlannedModel,
  runBootstrap,
} from "./run_bootstrap.ts";
