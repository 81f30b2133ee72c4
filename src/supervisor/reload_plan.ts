import type { RuntimeSpec } from "./runtime.ts";

/** What a reload does to each runtime id. */
export interface ReloadPlan {
  /** New ids: created, and started when `auto_start`. */
  readonly added: string[];
  /** Ids no longer configured: stopped gracefully and dropped. */
  readonly removed: string[];
  /** Ids whose spec differs in anything: stopped, reconfigured, started when `auto_start`. */
  readonly changed: string[];
  /** Ids whose spec is identical: not touched. */
  readonly unchanged: string[];
}

/**
 * Compares the running specs with those of a new configuration. Specs are plain data built
 * in a fixed key order, so their JSON is equal exactly when they are.
 */
export function planReload(
  current: ReadonlyMap<string, RuntimeSpec>,
  next: ReadonlyMap<string, RuntimeSpec>,
): ReloadPlan {
  const plan: ReloadPlan = { added: [], removed: [], changed: [], unchanged: [] };
  for (const id of current.keys()) if (!next.has(id)) plan.removed.push(id);
  for (const [id, spec] of next) {
    const old = current.get(id);
    if (old === undefined) plan.added.push(id);
    else if (JSON.stringify(old) === JSON.stringify(spec)) plan.unchanged.push(id);
    else plan.changed.push(id);
  }
  return plan;
}
