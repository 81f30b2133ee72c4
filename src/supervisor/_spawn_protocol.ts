/** Messages between {@linkcode Spawner} (main thread) and `spawner_worker.ts`. */

/** Main thread → worker. */
export type SpawnerRequest =
  | {
    readonly type: "spawn";
    readonly id: number;
    readonly command: string;
    readonly args: readonly string[];
    readonly cwd?: string | undefined;
    readonly env: Readonly<Record<string, string>>;
    readonly uid?: number | undefined;
    readonly gid?: number | undefined;
    /** "lines": output split into lines; "text": raw decoded chunks. */
    readonly output: "lines" | "text";
    /** Absolute path of util-linux `setpriv` to wrap the command with, or `null`. */
    readonly setpriv: string | null;
  }
  | { readonly type: "kill"; readonly id: number; readonly signal: Deno.Signal };

/** Worker → main thread; for one child: `spawned` or `refused`, then `output`…, then `exit`. */
export type SpawnerMessage =
  | {
    readonly type: "spawned";
    readonly id: number;
    readonly pid: number;
    readonly pdeathsig: boolean;
  }
  | {
    readonly type: "refused";
    readonly id: number;
    readonly name: string;
    readonly message: string;
  }
  | {
    readonly type: "output";
    readonly id: number;
    readonly stream: "stdout" | "stderr";
    readonly at: string;
    readonly chunks: readonly string[];
  }
  | {
    readonly type: "exit";
    readonly id: number;
    readonly code: number;
    readonly signal: Deno.Signal | null;
    /** Why reading its output failed, when it did (the exit is reported all the same). */
    readonly outputError?: string;
  };
