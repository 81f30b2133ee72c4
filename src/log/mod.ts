/**
 * The process logger: JSON lines off a TTY, readable lines on a TTY, with levels.
 *
 * @module
 */
export * from "./logger.ts";
