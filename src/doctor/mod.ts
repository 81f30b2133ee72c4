/**
 * `edgellm doctor`: what works and what is broken on this machine, each problem with its fix.
 *
 * @module
 */
export * from "./doctor.ts";
export * from "./doctor_command.ts";
