/**
 * The one place that decides what edgellm may do: the Deno permission flags that
 * `deno task edgellm`, the tests and `compile.ts` all use.
 *
 * @module
 */
export * from "./checkout_flags.ts";
export * from "./deno_flags.ts";
export * from "./scope.ts";
