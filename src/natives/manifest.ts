import { z } from "zod";
import { join } from "node:path";
import { TARGETS } from "./target.ts";
import { errorMessage } from "../_util/error_message.ts";

/** Version of the `manifest.json` layout; bumped on any incompatible change. */
export const MANIFEST_SCHEMA_VERSION = 1;

/** Name of the manifest file at the top of every bundle. */
export const MANIFEST_FILE = "manifest.json";

/** A relative path that stays inside the bundle: no leading `/`, no `.`/`..`/empty segments. */
function isBundlePath(path: string): boolean {
  return path.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

const bundlePath = z.string().refine(isBundlePath, "must be a relative path inside the bundle");
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits");

/** Schema of a bundle's `manifest.json` (snake_case, like every on-disk format of edgellm). */
export const manifestSchema = z.object({
  schema_version: z.literal(MANIFEST_SCHEMA_VERSION),
  target: z.enum(TARGETS),
  /** What `llama-server --version` printed when the bundle was assembled. */
  llama_cpp: z.object({
    version: z.string(),
    build: z.number().int().nonnegative(),
    commit: z.string(),
  }),
  /** Where the files came from: a Debian suite and the packages taken from it. */
  source: z.object({
    distribution: z.string(),
    suite: z.string(),
    /** The `Date` of the suite's Release file. */
    date: z.string(),
    packages: z.array(z.object({
      name: z.string(),
      version: z.string(),
      architecture: z.string(),
      sha256,
    })),
  }),
  /** The dynamic loader that runs the executables, e.g. `lib/ld-linux-x86-64.so.2`. */
  loader: bundlePath,
  /** The folder given to the loader's `--library-path`. */
  library_path: bundlePath,
  /** Executable name (e.g. `llama-server`) to its path in the bundle. */
  executables: z.record(z.string(), bundlePath),
  files: z.array(z.object({
    path: bundlePath,
    size: z.number().int().nonnegative(),
    sha256,
    /** The Debian package the file was taken from. */
    package: z.string(),
  })),
}).superRefine((manifest, ctx) => {
  const paths = new Set(manifest.files.map((file) => file.path));
  const named: [string, string][] = [
    ["loader", manifest.loader],
    ...Object.entries(manifest.executables).map(([name, path]): [string, string] => [
      `executables.${name}`,
      path,
    ]),
  ];
  for (const [field, path] of named) {
    if (!paths.has(path)) {
      ctx.addIssue({
        code: "custom",
        path: field.split("."),
        message: `"${path}" is not in files`,
      });
    }
  }
});

/** A validated bundle manifest. */
export type Manifest = z.infer<typeof manifestSchema>;

/**
 * Parses and validates the text of a `manifest.json`.
 *
 * @throws {SyntaxError} when the text is not JSON or not a valid manifest; the message names
 * every offending field.
 */
export function parseManifest(text: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`Cannot parse bundle manifest: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((issue) =>
      `${issue.path.join(".") || "(root)"}: ${issue.message}`
    );
    throw new SyntaxError(`Cannot parse bundle manifest: ${issues.join("; ")}`);
  }
  return result.data;
}

/**
 * Reads and validates `<dir>/manifest.json`.
 *
 * @throws {Deno.errors.NotFound} when the folder has no manifest.
 * @throws {SyntaxError} when the manifest is invalid.
 */
export async function readManifest(dir: string): Promise<Manifest> {
  return parseManifest(await Deno.readTextFile(join(dir, MANIFEST_FILE)));
}

/**
 * The unparsed text of `<dir>/manifest.json` (callers that name a bundle by its hash need the
 * exact text), or `null` when the folder has no manifest.
 */
export async function readManifestText(dir: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(join(dir, MANIFEST_FILE));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}
