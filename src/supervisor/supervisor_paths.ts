import { join } from "node:path";

/**
 * Where the supervisor keeps things under `$EDGELLM_HOME` (PRODUCT.md "Store"): its own
 * bookkeeping beside the bootstrapper's in `state/`, each runtime's folder in `runtimes/`.
 */
export function supervisorPaths(home: string) {
  return {
    /** `state/serve.lock`: held while a supervisor runs (one per home). */
    lock: join(home, "state", "serve.lock"),
    /** `state/children/<pid>.json`: the live children, for the next start's leftover scan. */
    children: join(home, "state", "children"),
    /** `state/jobs/`: the working folder of one-shot jobs (not a runtime, so not in `runtimes/`). */
    jobs: join(home, "state", "jobs"),
    /** `runtimes/<id>/`: a runtime's working folder and its `output.log`. */
    runtime: (id: string) => join(home, "runtimes", id),
  };
}
