/**
 * Shared set-up of the bootstrapper's tests: a fake hub with a model, a temp home, and
 * helpers to look into the store.
 *
 * @module
 */
import { sha256File } from "../../src/natives/mod.ts";
import { join } from "node:path";
import { fakeBytes, FakeHub, type FakeHubOptions, sha256Hex } from "./fake_hub.ts";

/** The model most tests fetch. */
export const REPO = "org/tiny";
/** Its GGUF file. */
export const GGUF = "tiny-Q4_K_M.gguf";

/** A fake hub, a temp home and the child environment that points at the hub. */
export interface BootstrapFixture extends AsyncDisposable {
  readonly hub: FakeHub;
  readonly home: string;
  /** `HF_ENDPOINT` for the CLI. */
  readonly env: Record<string, string>;
  /** The commit of {@linkcode REPO} on `main`. */
  readonly commit: string;
  /** The GGUF's content. */
  readonly content: Uint8Array;
  /** The GGUF's sha256 (its blob name). */
  readonly sha256: string;
}

/** Options for {@linkcode bootstrapFixture}. */
export interface BootstrapFixtureOptions extends FakeHubOptions {
  /** Size of the GGUF. @default {300_000} */
  size?: number;
  /** Put the repo behind the token. @default {false} */
  gated?: boolean;
}

/** Starts a fake hub with {@linkcode REPO} (a GGUF and a README) and makes a temp home. */
export async function bootstrapFixture(
  options: BootstrapFixtureOptions = {},
): Promise<BootstrapFixture> {
  const hub = FakeHub.start(options);
  const content = fakeBytes(options.size ?? 300_000, 42);
  const commit = hub.commit(REPO, [
    { path: GGUF, content },
    { path: "README.md", content: new TextEncoder().encode("# tiny\n") },
  ], { gated: options.gated ?? false });
  const home = await Deno.makeTempDir({ prefix: "edgellm-bootstrap-" });
  return {
    hub,
    home,
    env: { HF_ENDPOINT: hub.url },
    commit,
    content,
    sha256: sha256Hex(content),
    async [Symbol.asyncDispose]() {
      await hub.close();
      await Deno.remove(home, { recursive: true });
    },
  };
}

/** `$home/hub/models--org--name`. */
export function repoDir(home: string, repo = REPO): string {
  return join(home, "hub", `models--${repo.replace("/", "--")}`);
}

/** sha256 of a file's content (following links). */
export async function sha256OfFile(path: string): Promise<string> {
  return (await sha256File(path)).sha256;
}

/** Every path under `dir`, relative, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const paths: string[] = [];
  async function walk(current: string, prefix: string) {
    for await (const entry of Deno.readDir(current)) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      paths.push(path);
      if (entry.isDirectory) await walk(join(current, entry.name), path);
    }
  }
  await walk(dir, "");
  return paths.sort();
}

/** Reads `state/bootstrap.json` (or `undefined`). */
export async function readState(home: string): Promise<
  { downloads: Record<string, { bytes_done: number; validator: string | null }> } | undefined
> {
  try {
    return JSON.parse(await Deno.readTextFile(join(home, "state", "bootstrap.json")));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

export { fakeBytes, sha256Hex };
