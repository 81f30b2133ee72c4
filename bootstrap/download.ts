import { dirname } from "node:path";
import { CliError, ExitCode } from "../src/errors.ts";
import type { Logger } from "../src/log/mod.ts";
import { ensureFreeSpace } from "./disk_space.ts";
import type { HubClient } from "./hub_client.ts";
import type { Progress } from "./progress.ts";
import { PartialWriter } from "./partial_writer.ts";
import { type ExpectedDigest, expectedDigest, type RepoFile } from "./repo_file.ts";
import { repoFolderName } from "./repo_path.ts";
import { HubError, retry, type RetryOptions } from "./retry.ts";
import type { BootstrapState, DownloadState } from "./state_file.ts";
import type { HubStore } from "./store.ts";
import { linkedAbort } from "../src/_util/linked_abort.ts";
import { readChunks, removeIfExists, syncDir } from "./_util.ts";
import { errorMessage } from "../src/_util/error_message.ts";

/**
 * Checkpoint cadence: the partial is fsynced and the state file replaced after this many
 * bytes or this much time, whichever comes first. A kill then re-downloads at most what
 * arrived since (the partial's own size is the resume point, so usually less). One second
 * keeps the loss small on slow links; 16 MiB bounds it on fast ones without an fsync per
 * chunk.
 */
export const CHECKPOINT = { bytes: 16 << 20, ms: 1000 } as const;

/**
 * A stalled transfer (no byte for this long) is aborted and retried: flaky links stall more
 * often than they fail.
 */
export const IDLE_TIMEOUT_MS = 30_000;

/** Options for {@linkcode ChecksumMismatchError}. */
export interface ChecksumMismatchOptions {
  /** What the file was expected to hash to. */
  expected: ExpectedDigest;
  /** What its bytes hash to (or a note on their size). */
  actual: string;
  /** What happened, e.g. "downloaded twice from zero". */
  context: string;
}

/** The bytes of a file do not match its expected size and hash; nothing was kept. */
export class ChecksumMismatchError extends CliError {
  /** The repo. */
  readonly repo: string;
  /** The file inside the repo. */
  readonly path: string;
  /** What the file was expected to hash to. */
  readonly expected: ExpectedDigest;
  /** What the bytes hash to. */
  readonly actual: string;

  /** Constructs a new instance. */
  constructor(repo: string, path: string, options: ChecksumMismatchOptions) {
    super(
      `Cannot verify '${repo}/${path}': ${options.expected.algorithm} expected ` +
        `${options.expected.hex}, got ${options.actual} (${options.context}); nothing was kept.`,
      ExitCode.Failed,
    );
    this.name = "ChecksumMismatchError";
    this.repo = repo;
    this.path = path;
    this.expected = options.expected;
    this.actual = options.actual;
  }
}

/** One file to fetch into the store. */
export interface DownloadJob {
  readonly repo: string;
  readonly commit: string;
  readonly file: RepoFile;
}

/** What a download needs around it. */
export interface DownloadContext {
  readonly client: HubClient;
  readonly store: HubStore;
  /** The loaded state; its `downloads` entry for the file is kept up to date. */
  readonly state: BootstrapState;
  /** Writes the state file (a checkpoint). */
  readonly saveState: () => Promise<void>;
  readonly progress: Progress;
  readonly logger: Logger;
  /** Aborts the download after a checkpoint. */
  readonly signal?: AbortSignal | undefined;
  /** Told about every byte received (the run adds them to the state's byte totals). */
  readonly onBytes?: ((bytes: number) => void) | undefined;
  /** Overrides the retry policy (tests). */
  readonly retry?: RetryOptions | undefined;
  /** Free bytes of a folder's file system. @default {statfs} */
  readonly freeBytes?: ((dir: string) => Promise<number>) | undefined;
  /** How long a transfer may go without a byte before it is retried. @default {IDLE_TIMEOUT_MS} */
  readonly idleTimeoutMs?: number | undefined;
}

/** The key of a download in {@linkcode BootstrapState.downloads}. */
export function downloadKey(repo: string, etag: string): string {
  return `${repoFolderName(repo)}/blobs/${etag}`;
}

/**
 * Downloads a file into `blobs/<etag>`: resumes `blobs/<etag>.incomplete` with `Range` and
 * `If-Range` (rehashing its prefix), restarts from zero when the server sends the whole file,
 * retries network failures, 5xx and 429 (resuming each time), checkpoints the state, and
 * renames to the final path only when size and hash match. A mismatch deletes the partial and
 * downloads once more from zero.
 *
 * @returns the bytes received over the network.
 * @throws {ChecksumMismatchError} when the second download does not match either.
 * @throws {HubError} when the hub fails permanently or retries are spent.
 * @throws {import("./disk_space.ts").DiskSpaceError} when the disk cannot hold the rest.
 */
export async function downloadFile(job: DownloadJob, context: DownloadContext): Promise<number> {
  const { repo, file } = job;
  const blob = context.store.blobPath(repo, file.etag);
  const partial = context.store.incompletePath(repo, file.etag);
  const key = downloadKey(repo, file.etag);
  await Deno.mkdir(dirname(blob), { recursive: true });
  const expected = expectedDigest(file);
  let received = 0;
  for (let pass = 1;; pass++) {
    const result = await fetchToPartial(job, { context, partial, key, expected });
    received += result.received;
    if (result.size === file.size && result.hex === expected.hex) {
      await Deno.rename(partial, blob);
      await syncDir(dirname(blob));
      delete context.state.downloads[key];
      await context.saveState();
      return received;
    }
    await removeIfExists(partial);
    delete context.state.downloads[key];
    await context.saveState();
    const actual = result.size === file.size
      ? result.hex
      : `${
        result.size > file.size ? "more than " : ""
      }${result.size} bytes instead of ${file.size}`;
    if (pass >= 2) {
      throw new ChecksumMismatchError(repo, file.path, {
        expected,
        actual,
        context: "downloaded twice from zero: the hub or a proxy serves wrong bytes",
      });
    }
    context.logger.warn("downloaded bytes do not match; deleted them, downloading once more", {
      repo,
      file: file.path,
      expected: expected.hex,
      actual,
    });
  }
}

interface PartialResult {
  /** Bytes in the partial (more than the file's size means the server sent too many). */
  size: number;
  /** Digest of the partial in the expected algorithm. */
  hex: string;
  /** Bytes received over the network. */
  received: number;
}

async function fetchToPartial(
  job: DownloadJob,
  options: { context: DownloadContext; partial: string; key: string; expected: ExpectedDigest },
): Promise<PartialResult> {
  const { context, partial, key, expected } = options;
  const { repo, commit, file } = job;
  using writer = await PartialWriter.open(partial, {
    expected,
    size: file.size,
    signal: context.signal,
  });
  await ensureFreeSpace(dirname(partial), file.size - writer.written, {
    what: `'${repo}/${file.path}'`,
    ...(context.freeBytes ? { freeBytes: context.freeBytes } : {}),
  });
  const previous: DownloadState | undefined = context.state.downloads[key];
  const entry: DownloadState = {
    repo,
    commit,
    path: file.path,
    size: file.size,
    sha256: file.sha256,
    etag: file.etag,
    validator: previous?.validator ?? null,
    bytes_done: Math.min(previous?.bytes_done ?? 0, writer.written),
    updated_at: new Date().toISOString(),
  };
  context.state.downloads[key] = entry;
  let received = 0;
  let lastCheckpoint = { bytes: writer.written, at: Date.now() };
  let overflow = false;

  async function checkpoint(): Promise<void> {
    await writer.sync();
    entry.bytes_done = writer.written;
    entry.updated_at = new Date().toISOString();
    await context.saveState();
    lastCheckpoint = { bytes: writer.written, at: Date.now() };
  }

  let attemptStart = writer.written;
  context.progress.start({ repo, path: file.path, size: file.size, done: writer.written });
  try {
    await retry(async () => {
      await writer.flush(); // a retry resumes after every byte received so far
      attemptStart = writer.written;
      if (writer.written === file.size) return;
      // The watchdog covers the wait for the answer and every wait for data: flaky links
      // stall more often than they fail.
      using attempt = linkedAbort(context.signal);
      const idleMs = context.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
      let lastByteAt = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - lastByteAt > idleMs) attempt.controller.abort();
      }, Math.min(1000, idleMs / 2));
      let chunks: AsyncGenerator<Uint8Array> | undefined;
      let reading = true;
      try {
        const response = await context.client.openFile(repo, { commit, path: file.path }, {
          offset: writer.written,
          validator: entry.validator,
          signal: attempt.controller.signal,
        });
        reading = false;
        if (response.offset !== writer.written) {
          // A 200 to a Range request: the file changed (If-Range failed) or the server cannot
          // resume. Its bytes are the whole file, so the partial starts over. A 206 from
          // another offset is a broken server: start over with a plain request.
          context.logger.info("server did not resume where asked; restarting the file", {
            repo,
            file: file.path,
            had: writer.written,
            status: response.status,
          });
          await writer.restart();
          attemptStart = 0;
          context.progress.start({ repo, path: file.path, size: file.size, done: 0 });
          if (response.status === 206) {
            await response.body.cancel();
            entry.validator = null;
            throw new HubError(`Cannot resume '${repo}/${file.path}': wrong Content-Range`, {
              status: 206,
              temporary: true,
            });
          }
        }
        entry.validator = response.validator;
        await checkpoint();
        chunks = readChunks(response.body, attempt.controller.signal);
        for (;;) {
          reading = true;
          const next = await chunks.next();
          reading = false;
          if (next.done) break;
          const chunk = next.value;
          lastByteAt = Date.now();
          if (writer.length + chunk.length > file.size) {
            // More bytes than the file has: wrong content. Keep one byte too many, so that the
            // size check fails, and stop reading.
            await writer.push(chunk.subarray(0, file.size - writer.length + 1));
            overflow = true;
            break;
          }
          await writer.push(chunk);
          received += chunk.length;
          context.onBytes?.(chunk.length);
          context.progress.advance(chunk.length);
          if (
            writer.length - lastCheckpoint.bytes >= CHECKPOINT.bytes ||
            lastByteAt - lastCheckpoint.at >= CHECKPOINT.ms
          ) await checkpoint();
        }
      } catch (error) {
        if (context.signal?.aborted) throw context.signal.reason;
        if (error instanceof HubError) throw error;
        const message = errorMessage(error);
        if (!reading) {
          // The disk, not the network: retrying will not help.
          throw new CliError(
            `Cannot write '${partial}': ${message}; fix the disk, then run the bootstrap again`,
            ExitCode.Failed,
            { cause: error },
          );
        }
        const why = attempt.controller.signal.aborted ? `no data for ${idleMs / 1000} s` : message;
        throw new HubError(`Cannot finish '${repo}/${file.path}': ${why}`, {
          temporary: true,
          cause: error,
        });
      } finally {
        clearInterval(watchdog);
        await chunks?.return(undefined);
      }
      if (writer.length < file.size && !overflow) {
        throw new HubError(
          `Cannot finish '${repo}/${file.path}': the connection closed at byte ` +
            `${writer.length} of ${file.size}`,
          { temporary: true },
        );
      }
    }, {
      ...context.retry,
      ...signalOf(context),
      madeProgress: () => writer.length > attemptStart,
      onRetry: (error, attempt, delayMs) => {
        context.logger.warn("download interrupted; retrying", {
          repo,
          file: file.path,
          at_byte: writer.length,
          attempt,
          wait_ms: Math.round(delayMs),
          reason: error.message,
        });
      },
    });
    await checkpoint();
  } finally {
    // On abort (SIGINT) and on failure too, what arrived is kept and recorded; a checkpoint
    // that fails now (disk full) must not hide the error that got us here.
    if (writer.length !== lastCheckpoint.bytes) {
      await checkpoint().catch((error) => {
        context.logger.warn("cannot record the download's progress", { partial, error });
      });
    }
    context.progress.finish(writer.written === file.size);
  }
  return { size: writer.written, hex: writer.digest(), received };
}

function signalOf(context: DownloadContext): { signal?: AbortSignal } {
  return context.signal ? { signal: context.signal } : {};
}
