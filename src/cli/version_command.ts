import { Command } from "commander";
import { join } from "node:path";
import { DIST_DIR, hostTarget, type Manifest, readManifest } from "../natives/mod.ts";
import { VERSION } from "../version.ts";
import { printJson, writeStdout } from "./output.ts";
import { withContext } from "./program.ts";

/** The llama.cpp build of this machine's bundle, from its manifest; `null` without a bundle. */
async function bundledLlamaCpp(): Promise<Manifest["llama_cpp"] | null> {
  try {
    return (await readManifest(join(DIST_DIR, hostTarget()))).llama_cpp;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** `edgellm version [--json]`: edgellm, Deno and target versions, and the bundle's llama.cpp. */
export function versionCommand(): Command {
  return new Command("version")
    .description("print the edgellm, Deno and target versions and the bundled llama.cpp build")
    .option("--json", "machine-readable output")
    .action(withContext<{ json?: boolean }>(async (options) => {
      const llamaCpp = await bundledLlamaCpp();
      const info = {
        edgellm: VERSION,
        deno: Deno.version.deno,
        target: Deno.build.target,
        llama_cpp: llamaCpp,
      };
      if (options.json) return await printJson(info);
      const llama = llamaCpp === null
        ? "none (no bundle for this target)"
        : `${llamaCpp.version} build ${llamaCpp.build} (${llamaCpp.commit})`;
      await writeStdout(
        `edgellm ${info.edgellm}\ndeno ${info.deno}\ntarget ${info.target}\nllama.cpp ${llama}\n`,
      );
    }));
}
