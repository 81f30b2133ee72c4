/**
 * Configured models: where each model's GGUF file is on this machine.
 *
 * @module
 */
export * from "./resolve_model_file.ts";
