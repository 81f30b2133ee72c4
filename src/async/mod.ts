/**
 * Small asynchronous helpers shared by the runtime and the bootstrapper.
 *
 * @module
 */
export * from "./delay.ts";
