/** An id that names no configured runtime (the HTTP layer answers 404). */
export class RuntimeNotFoundError extends Error {
  /** The id asked for. */
  readonly runtime: string;

  /** Constructs a new instance. */
  constructor(runtime: string) {
    super(`Cannot find runtime "${runtime}": it is not in the configuration`);
    this.name = "RuntimeNotFoundError";
    this.runtime = runtime;
  }
}

/** Another supervisor holds the home folder (the CLI exits 75: retry later). */
export class SupervisorLockedError extends Error {
  /** The lock file. */
  readonly path: string;
  /** The pid written by the holder, if readable. */
  readonly ownerPid: number | undefined;

  /** Constructs a new instance. */
  constructor(path: string, ownerPid: number | undefined) {
    const owner = ownerPid === undefined ? "another process" : `process ${ownerPid}`;
    super(
      `Cannot start the supervisor: ${owner} holds "${path}" (one edgellm serve per home); ` +
        "stop it or use another --home",
    );
    this.name = "SupervisorLockedError";
    this.path = path;
    this.ownerPid = ownerPid;
  }
}
