import { join } from "node:path";
import { ELF_MACHINE } from "./elf_dynamic.ts";
import type { Target } from "../src/natives/mod.ts";

/** How a target is spelled in Debian and in ELF. */
export interface DebianTarget {
  /** Debian architecture, e.g. `amd64`. */
  arch: string;
  /** Multiarch triplet, the library folder name, e.g. `x86_64-linux-gnu`. */
  triplet: string;
  /** ELF `e_machine` of its binaries. */
  machine: number;
}

/** Debian's names for each {@linkcode Target}. */
export const DEBIAN_TARGETS: Record<Target, DebianTarget> = {
  "x86_64-unknown-linux-gnu": {
    arch: "amd64",
    triplet: "x86_64-linux-gnu",
    machine: ELF_MACHINE.x86_64,
  },
  "aarch64-unknown-linux-gnu": {
    arch: "arm64",
    triplet: "aarch64-linux-gnu",
    machine: ELF_MACHINE.aarch64,
  },
};

/** Splits a byte stream into lines (without their `\n`). */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    yield* lines;
  }
  if (rest !== "") yield rest;
}

/** Opens a gzip file as a stream of its decompressed bytes. */
export async function gunzipFile(path: string): Promise<ReadableStream<Uint8Array>> {
  const file = await Deno.open(path);
  return file.readable.pipeThrough(new DecompressionStream("gzip"));
}

/** Runs a program to completion and returns its stdout; a non-zero exit throws with stderr. */
export async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdin: "null" }).output();
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim();
    throw new Error(
      `Cannot run "${[command, ...args].join(" ")}": exit code ${output.code}: ${stderr}`,
    );
  }
  return new TextDecoder().decode(output.stdout);
}

/** A unique name for a temporary sibling of `path` that a rename can later move into place. */
export function tempSibling(dir: string, name: string): string {
  return join(dir, `.${name}.tmp-${crypto.randomUUID()}`);
}
