import { z } from "zod";
import { VERSION } from "../src/version.ts";
import { assertSafeCommit, assertSafeRepoId, assertSafeRepoPath } from "./repo_path.ts";
import type { RepoFile } from "./repo_file.ts";
import { HubError, parseRetryAfter, retry, type RetryOptions } from "./retry.ts";
import { linkedAbort } from "../src/_util/linked_abort.ts";
import { concat, readChunks } from "./_util.ts";
import { errorMessage } from "../src/_util/error_message.ts";

/** `GET /api/models/{repo}/revision/{rev}`: only what is used is required; the rest is ignored. */
const RevisionInfoSchema = z.object({
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  siblings: z.array(z.object({ rfilename: z.string() })).optional(),
});

/** One entry of `GET /api/models/{repo}/tree/{rev}?recursive=true`. */
const TreeEntrySchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("file"),
    oid: z.string().regex(/^[0-9a-f]{40}$/),
    size: z.number().int().min(0),
    path: z.string().min(1),
    lfs: z.object({
      oid: z.string().regex(/^[0-9a-f]{64}$/),
      size: z.number().int().min(0),
      pointerSize: z.number().int().min(0).optional(),
    }).optional(),
  }),
  z.object({ type: z.literal("directory"), path: z.string() }),
]);

const TreeSchema = z.array(TreeEntrySchema);

/** The hub's error body (`{"error": "..."}`). */
const ErrorBodySchema = z.object({ error: z.string() });

/** Options for {@linkcode HubClient}. */
export interface HubClientOptions {
  /** The hub, e.g. `https://huggingface.co` (from `HF_ENDPOINT` or `[hub] endpoint`). */
  endpoint: string;
  /** Bearer token; sent only to the endpoint's own origin, never to a CDN it redirects to. */
  token?: string | undefined;
  /** The variable the token comes from, named in 401/403 messages. @default {"HF_TOKEN"} */
  tokenEnv?: string;
  /**
   * How long a metadata request (revision, tree) may take. Edge links stall more often than
   * they fail, and a stalled request must become a retry rather than hang a cron run. Downloads
   * ({@linkcode HubClient.openFile}) are timed by their caller, which sees every byte.
   * @default {30000}
   */
  timeoutMs?: number;
  /**
   * Retries of metadata requests (revision, tree) on network errors, 5xx and 429. Downloads
   * retry in `download.ts`, where a retry resumes. @default {the defaults of `retry`}
   */
  retry?: RetryOptions;
}

/** Options of one request. */
export interface RequestOptions {
  /** Cancels the request (and the body of an opened file). */
  signal?: AbortSignal;
}

/** Options for {@linkcode HubClient.openFile}. */
export interface OpenFileOptions extends RequestOptions {
  /** Resume from this byte (`Range: bytes=<offset>-`). @default {0} */
  offset?: number;
  /** The ETag of the earlier response, sent as `If-Range` so a changed file comes whole. */
  validator?: string | null;
}

/** An opened download. */
export interface FileResponse {
  /** 206 when the server resumed, 200 when it sends the whole file. */
  readonly status: 200 | 206;
  /** Where the body starts in the file: the offset asked for on a 206, else 0. */
  readonly offset: number;
  /** The response's strong ETag, to send as `If-Range` when resuming; `null` if none. */
  readonly validator: string | null;
  /** The bytes. */
  readonly body: ReadableStream<Uint8Array>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/**
 * A client of the Hugging Face hub's HTTP API: resolves revisions, lists files, opens
 * downloads (following redirects to a CDN without the token). Every JSON answer is validated;
 * a surprise is a {@linkcode HubError}, never a crash. Network failures, 5xx and 429 are
 * temporary `HubError`s (see `retry.ts`); other failures are permanent.
 */
export class HubClient {
  readonly #endpoint: string;
  readonly #origin: string;
  readonly #token: string | undefined;
  readonly #tokenEnv: string;
  readonly #timeoutMs: number;
  readonly #retry: RetryOptions;

  /** A client of the hub at `options.endpoint`. */
  constructor(options: HubClientOptions) {
    this.#endpoint = options.endpoint.replace(/\/+$/, "");
    this.#origin = new URL(this.#endpoint).origin;
    this.#token = options.token || undefined;
    this.#tokenEnv = options.tokenEnv ?? "HF_TOKEN";
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retry = options.retry ?? {};
  }

  /**
   * Resolves a branch, tag or commit to a commit sha (one request).
   *
   * @throws {HubError} e.g. 404 for an unknown repo or revision, 401 for a gated repo.
   */
  async resolveRevision(
    repo: string,
    revision: string,
    options: RequestOptions = {},
  ): Promise<string> {
    assertSafeRepoId(repo);
    const url = `${this.#endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
    const { value } = await this.#getJson(url, RevisionInfoSchema, options.signal);
    return value.sha;
  }

  /**
   * Lists the files of a repo at a commit with their size, blob name and LFS sha256
   * (following the hub's `Link: rel="next"` pagination).
   *
   * @throws {HubError} for a failed request or an unexpected answer.
   * @throws {import("./repo_path.ts").UnsafePathError} for a path that would escape the store.
   */
  async listFiles(repo: string, commit: string, options: RequestOptions = {}): Promise<RepoFile[]> {
    assertSafeRepoId(repo);
    assertSafeCommit(commit);
    const files: RepoFile[] = [];
    let url: string | undefined = `${this.#endpoint}/api/models/${repo}/tree/${commit}` +
      "?recursive=true";
    while (url !== undefined) {
      const page: { value: z.infer<typeof TreeSchema>; response: Response } = await this
        .#getJson(url, TreeSchema, options.signal);
      const { value, response } = page;
      for (const entry of value) {
        if (entry.type !== "file") continue;
        assertSafeRepoPath(entry.path);
        files.push({
          path: entry.path,
          size: entry.lfs?.size ?? entry.size,
          etag: entry.lfs?.oid ?? entry.oid,
          sha256: entry.lfs?.oid ?? null,
        });
      }
      const next: string | undefined = /<([^>]+)>\s*;\s*rel="?next"?/.exec(
        response.headers.get("link") ?? "",
      )?.[1];
      url = next === undefined ? undefined : new URL(next, url).href;
    }
    return files;
  }

  /**
   * Opens `/{repo}/resolve/{commit}/{path}` from `offset` (with `If-Range`), following
   * redirects; the token goes only to the endpoint's origin. The caller reads or cancels the
   * body; `options.signal` also aborts the body. No timeout here: the caller, which sees every
   * byte arrive, aborts a stalled download.
   *
   * @throws {HubError} for a failed request.
   */
  async openFile(
    repo: string,
    target: { commit: string; path: string },
    options: OpenFileOptions = {},
  ): Promise<FileResponse> {
    assertSafeRepoId(repo);
    assertSafeCommit(target.commit);
    assertSafeRepoPath(target.path);
    const offset = options.offset ?? 0;
    const headers: Record<string, string> = {};
    if (offset > 0) {
      headers["range"] = `bytes=${offset}-`;
      if (options.validator) headers["if-range"] = options.validator;
    }
    const url = `${this.#endpoint}/${repo}/resolve/${target.commit}/${encodePath(target.path)}`;
    const response = await this.#fetch(url, headers, options.signal);
    const etag = response.headers.get("etag");
    const validator = etag && !etag.startsWith("W/") ? etag : null;
    if (response.status === 206) {
      const range = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(
        response.headers.get("content-range") ?? "",
      );
      if (!range) {
        await response.body?.cancel();
        throw new HubError(`Cannot resume '${target.path}': the 206 answer has no Content-Range`, {
          status: 206,
          temporary: false,
        });
      }
      return { status: 206, offset: Number(range[1]), validator, body: bodyOf(response) };
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new HubError(
        `Cannot download '${target.path}': the hub answered ${response.status}, expected 200 or 206`,
        { status: response.status, temporary: false },
      );
    }
    return { status: 200, offset: 0, validator, body: bodyOf(response) };
  }

  #getJson<T>(
    url: string,
    schema: z.ZodType<T>,
    signal: AbortSignal | undefined,
  ): Promise<{ value: T; response: Response }> {
    return retry(() => this.#getJsonOnce(url, schema, signal), {
      ...this.#retry,
      ...(signal ? { signal } : {}),
    });
  }

  async #getJsonOnce<T>(
    url: string,
    schema: z.ZodType<T>,
    signal: AbortSignal | undefined,
  ): Promise<{ value: T; response: Response }> {
    using request = linkedAbort(signal);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.controller.abort();
    }, this.#timeoutMs);
    let response: Response;
    let json: unknown;
    try {
      response = await this.#fetch(url, { accept: "application/json" }, request.controller.signal);
      try {
        const body = await Array.fromAsync(readChunks(bodyOf(response), request.controller.signal));
        json = JSON.parse(new TextDecoder().decode(concat(body)));
      } catch (error) {
        if (request.controller.signal.aborted) throw error;
        throw new HubError(`Cannot read the hub's answer to GET ${url}: not JSON`, {
          status: response.status,
          temporary: false,
          cause: error,
        });
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!timedOut) throw error;
      throw new HubError(
        `Cannot reach ${new URL(url).host}: no answer within ${this.#timeoutMs / 1000} s`,
        { temporary: true, cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    const result = schema.safeParse(json);
    if (!result.success) {
      const issues = result.error.issues.slice(0, 3)
        .map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`).join("; ");
      throw new HubError(
        `Cannot read the hub's answer to GET ${url}: unexpected shape (${issues}). ` +
          "Is the hub endpoint (HF_ENDPOINT or [hub] endpoint) a Hugging Face hub?",
        { status: response.status, temporary: false },
      );
    }
    return { value: result.data, response };
  }

  /** GET with manual redirects, a header timeout, and the token only for the hub's origin. */
  async #fetch(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = new URL(current).origin === this.#origin;
      const response = await this.#fetchOnce(current, {
        "user-agent": `edgellm/${VERSION}`,
        ...headers,
        ...(sameOrigin && this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
      }, signal);
      if (!REDIRECTS.has(response.status)) {
        if (response.ok) return response;
        throw await this.#errorOf(response, current);
      }
      await response.body?.cancel();
      const location = response.headers.get("location");
      if (!location) {
        throw new HubError(`Cannot follow the redirect of GET ${current}: no Location`, {
          status: response.status,
          temporary: false,
        });
      }
      current = new URL(location, current).href;
    }
    throw new HubError(`Cannot download ${url}: more than ${MAX_REDIRECTS} redirects`, {
      temporary: false,
    });
  }

  async #fetchOnce(
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    try {
      return await fetch(url, { headers, redirect: "manual", ...(signal ? { signal } : {}) });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new HubError(`Cannot reach ${new URL(url).host}: ${errorMessage(error)}`, {
        temporary: true,
        cause: error,
      });
    }
  }

  async #errorOf(response: Response, url: string): Promise<HubError> {
    const status = response.status;
    const code = response.headers.get("x-error-code") ?? undefined;
    let detail = response.headers.get("x-error-message") ?? "";
    // The status already says what failed; a body that breaks off only loses the detail.
    const text = await response.text().catch(() => "");
    if (!detail) {
      try {
        detail = ErrorBodySchema.parse(JSON.parse(text)).error;
      } catch (error) {
        // Not the hub's JSON error body (a proxy's page, say): show the start of the text.
        if (!(error instanceof SyntaxError || error instanceof z.ZodError)) throw error;
        detail = text.slice(0, 200).trim();
      }
    }
    const what = `GET ${url} answered ${status}${code ? ` (${code})` : ""}` +
      (detail ? `: ${detail}` : "");
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
    const base = { status, ...(code ? { code } : {}) };
    if (status === 429 || status === 408 || status >= 500) {
      return new HubError(`Cannot download now: ${what}; retry later`, {
        ...base,
        temporary: true,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    }
    if (status === 401 || status === 403) {
      const hint = this.#token
        ? `the token in ${this.#tokenEnv} has no access to it (gated repo: accept its terms)`
        : `the repo is gated or private: set ${this.#tokenEnv} to a token with access`;
      return new HubError(`Cannot download: ${what}. ${hint}`, { ...base, temporary: false });
    }
    return new HubError(`Cannot download: ${what}`, { ...base, temporary: false });
  }
}

function bodyOf(response: Response): ReadableStream<Uint8Array> {
  return response.body ?? new ReadableStream({ start: (c) => c.close() });
}
