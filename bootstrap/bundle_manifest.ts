import { z } from "zod";

/** `manifest.json` of a bundle written by `bundle export` and read by `bootstrap --from`. */
export const BundleManifestSchema = z.strictObject({
  format: z.literal("edgellm-bundle"),
  version: z.literal(1),
  created_at: z.string(),
  models: z.array(z.strictObject({
    /** The `[models.<id>]` it was exported for. */
    id: z.string(),
    repo: z.string(),
    /** The revision the model was configured with (branch, tag or sha). */
    revision: z.string(),
    commit: z.string().regex(/^[0-9a-f]{40}$/),
    files: z.array(z.strictObject({
      path: z.string(),
      size: z.number().int().min(0),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      /** The HF cache blob name (LFS sha256 or git blob id). */
      etag: z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/),
    })),
  })),
});

/** A bundle's manifest. */
export type BundleManifest = z.infer<typeof BundleManifestSchema>;

/** The manifest's file name inside a bundle. */
export const MANIFEST_NAME = "manifest.json";

/**
 * Where a file sits inside a bundle: plain files under `files/ORG--NAME/<commit>/<path>`, no
 * symlinks, so a bundle survives FAT-formatted USB sticks.
 */
export function bundleFilePath(repo: string, commit: string, path: string): string {
  return `files/${repo.replace("/", "--")}/${commit}/${path}`;
}
