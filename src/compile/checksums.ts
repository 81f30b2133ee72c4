import { ignoreNotFound } from "../_util/ignore_not_found.ts";
import { join } from "node:path";
import { sha256File, TARGETS } from "../natives/mod.ts";

/** One executable in `dist/`. */
export interface DistFile {
  /** File name, e.g. `edgellm-x86_64-unknown-linux-gnu`. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Hex sha256 of the file, as written to `SHA256SUMS`. */
  sha256: string;
}

/**
 * Writes `<distDir>/SHA256SUMS` (the `sha256sum -c` format) for every `edgellm-<target>` in
 * `distDir` and returns what it listed.
 */
export async function writeChecksums(distDir: string): Promise<DistFile[]> {
  const files: DistFile[] = [];
  for (const target of TARGETS) {
    const name = `edgellm-${target}`;
    try {
      files.push({ name, ...await sha256File(join(distDir, name)) });
    } catch (error) {
      ignoreNotFound(error);
    }
  }
  const text = files.map((file) => `${file.sha256}  ${file.name}\n`).join("");
  await Deno.writeTextFile(join(distDir, "SHA256SUMS"), text);
  return files;
}
