/**
 * The recipe for the llama.cpp bundles in `native/dist/<target>/` (run it with
 * `deno task natives`): Debian unstable's llama.cpp packages and the libraries their ELF files
 * need, verified against the archive's sha256, laid out flat with their own dynamic loader.
 *
 * @module
 */
export * from "./assemble.ts";
export * from "./debian_archive.ts";
export * from "./elf_dynamic.ts";
