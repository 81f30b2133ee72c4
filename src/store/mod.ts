/**
 * Shared pieces of the store (`$EDGELLM_HOME`): the exclusive lock that `bootstrap`
 * (`state/bootstrap.lock`) and `serve` (`state/serve.lock`) hold while they run.
 *
 * @module
 */
export * from "./exclusive_lock.ts";
