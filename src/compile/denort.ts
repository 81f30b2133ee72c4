import { ignoreNotFound } from "../_util/ignore_not_found.ts";
import { Buffer } from "node:buffer";
import { stripVTControlCharacters } from "node:util";
import { CliError, ExitCode } from "../errors.ts";
import { type Target, TARGETS } from "../natives/mod.ts";

/**
 * Printed by the full `deno` CLI's REPL, which `denort` does not have: `deno compile` with the
 * full CLI as its base gives a binary that only starts the REPL.
 */
const DENO_CLI_MARKER = "exit using ctrl+d, ctrl+c, or close()";

/** The section name a Deno runtime looks for its embedded program under (denort and deno). */
const STANDALONE_MARKER = "d3n0l4nd";

/** ELF `e_machine` of each target's architecture. */
const ELF_MACHINES: Record<Target, number> = {
  "x86_64-unknown-linux-gnu": 62,
  "aarch64-unknown-linux-gnu": 183,
};

/**
 * Checks that `DENORT_BIN` is a denort for `target`: present, an ELF executable for the
 * target's architecture, a Deno runtime, and not the full `deno` CLI. `deno compile` checks
 * none of this.
 *
 * @throws {CliError} saying what is wrong and what to use instead.
 */
export async function checkDenortBin(path: string, target: Target): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    ignoreNotFound(error);
    throw new CliError(
      `Cannot use DENORT_BIN "${path}": it does not exist; point it at a denort for ${target}`,
      ExitCode.Failed,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 20 || view.getUint32(0) !== 0x7f454c46) {
    throw new CliError(
      `Cannot use DENORT_BIN "${path}": it is not a Linux executable; use a denort for ${target}`,
      ExitCode.Failed,
    );
  }
  const machine = view.getUint16(18, true);
  if (machine !== ELF_MACHINES[target]) {
    const other = TARGETS.find((t) => ELF_MACHINES[t] === machine);
    throw new CliError(
      `Cannot use DENORT_BIN "${path}" for "${target}": it is built for ` +
        `${other ? `"${other}"` : `ELF machine ${machine}`}; build one target at a time with ` +
        `DENORT_BIN set to a denort for it (--target ${target})`,
      ExitCode.Failed,
    );
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!buffer.includes(STANDALONE_MARKER)) {
    throw new CliError(
      `Cannot use DENORT_BIN "${path}": it is not a Deno runtime (denort); use denort from ` +
        `denort-${target}.zip of Deno ${Deno.version.deno}`,
      ExitCode.Failed,
    );
  }
  if (buffer.includes(DENO_CLI_MARKER)) {
    throw new CliError(
      `Cannot use DENORT_BIN "${path}": it is the full deno executable, not denort; a binary ` +
        `built on it only starts the REPL. Use denort from denort-${target}.zip of Deno ` +
        `${Deno.version.deno} (a release asset of Deno)`,
      ExitCode.Failed,
    );
  }
}

/**
 * Turns `deno compile` output which says that denort could not be had into a message an
 * operator can act on; `undefined` for any other failure.
 */
export function denortFailure(target: Target, output: string): string | undefined {
  const text = stripVTControlCharacters(output);
  const missing = /Could not find denort at '([^']*)'/.exec(text);
  if (missing) {
    return `Cannot compile for "${target}": DENORT_BIN "${missing[1]}" does not exist; ` +
      `point it at a denort for ${target}`;
  }
  // "Setting up base binary" is deno's context for getting denort; the URL (printed on its
  // "Download" line) says exactly what to fetch elsewhere.
  if (!/Setting up base binary/.test(text)) return undefined;
  const url = /(https?:\/\/\S*denort-\S+?\.zip)/.exec(text)?.[1] ?? `denort-${target}.zip`;
  // The innermost cause is the most telling: "dns error: …", "tcp connect error: …".
  const reason = /(?:dns|connect) error: [^\n]*/.exec(text)?.[0] ??
    /error sending request[^\n]*/.exec(text)?.[0];
  return [
    `Cannot compile for "${target}": Deno's runtime for this target (denort) cannot be had.`,
    `deno compile downloads it from ${url}, which failed here` +
    (reason ? ` (${reason.trim()})` : "") + `, and DENORT_BIN is not set.`,
    `To fix it, either:`,
    `  - fetch that zip where the network allows, unzip it, and run`,
    `      DENORT_BIN=/path/to/denort deno task compile --target ${target}`,
    `    (denort of Deno ${Deno.version.deno} for ${target}; not the full deno executable), or`,
    `  - run "deno task compile" once where that URL can be reached (denort is then cached in`,
    `    DENO_DIR for later builds).`,
  ].join("\n");
}
