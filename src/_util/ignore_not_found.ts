/**
 * For `.catch()` on a removal whose target may already be gone: swallows `NotFound`, rethrows
 * anything else.
 */
export function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
