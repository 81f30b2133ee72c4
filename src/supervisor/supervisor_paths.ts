import { join } from "node:path";

/** The paths {@linkcode supervisorPaths} returns, all absolute when `home` is. */
export interface SupervisorPaths {
  /** `state/serve.lock`: held while a supervisor runs (one per home). */
  readonly lock: string;
  /** `state/children/<pid>.json`: the live children, for the next start's leftover scan. */
  readonly children: string;
  /** `state/jobs/`: the working folder of one-shot jobs (not a runtime, so not in `runtimes/`). */
  readonly jobs: string;
  /** `runtimes/<id>/`: a runtime's working folder and its `output.log`. */
  readonly runtime: (id: string) => string;
}

/**
 * Where the supervisor keeps things under `$EDGELLM_HOME` (PRODUCT.md "Store"): its own
 * bookkeeping beside the bootstrapper's in `state/`, each runtime's folder in `runtimes/`.
 */
export function supervisorPaths(home: string): SupervisorPaths {
  return {
    lock: join(home, "state", "serve.lock"),
    children: join(home, "state", "children"),
    jobs: join(home, "state", "jobs"),
    runtime: (id: string) => join(home, "runtimes", id),
  };
}
