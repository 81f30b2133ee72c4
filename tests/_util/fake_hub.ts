/**
 * A local look-alike of the Hugging Face hub for tests: the same routes, JSON shapes, headers
 * and redirect to a CDN on another origin (`localhost:<port>` vs `127.0.0.1:<port>`), with
 * fault switches and counters. It is the project's only stand-in; it must behave like the hub.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A file to put in a repo. */
export interface FakeFileInput {
  path: string;
  content: Uint8Array;
  /** Stored with git LFS (redirected to the CDN). @default {path ends with ".gguf"} */
  lfs?: boolean;
}

interface FakeFile {
  path: string;
  content: Uint8Array;
  lfs: boolean;
  /** git blob id of the content (small files) or of the LFS pointer (LFS files). */
  oid: string;
  sha256: string;
  pointerSize: number;
}

interface FakeRepo {
  gated: boolean;
  refs: Map<string, string>;
  commits: Map<string, FakeFile[]>;
}

/** Which route a request hit. */
export type FakeRoute = "revision" | "tree" | "resolve" | "cdn" | "other";

/** One request as the fake hub saw it. */
export interface FakeRequest {
  route: FakeRoute;
  path: string;
  status: number;
  range: string | null;
  ifRange: string | null;
  authorization: boolean;
  /** `performance.now()` when it arrived. */
  at: number;
}

/** Fault switches; change them between or during runs. */
export interface FakeFaults {
  /** Limit file bodies (hub and CDN) to this many bytes per second; 0 = unlimited. */
  throttleBytesPerSec: number;
  /** Cut the connection of the next file body after this many bytes (then disarmed). */
  cutAfterBytes: number | undefined;
  /** Stop sending the next file body after this many bytes, keeping the connection open. */
  stallAfterBytes: number | undefined;
  /**
   * Answer the next `count` requests (of `routes`, default all) with `status`, after letting
   * `after` of them through (default 0).
   */
  failNext: {
    status: number;
    count: number;
    retryAfter?: string;
    routes?: FakeRoute[];
    after?: number;
  } | undefined;
  /** Serve wrong bytes (same length, same ETag) in the next this many file bodies. */
  wrongBodies: number;
}

/** Counters for assertions. */
export interface FakeCounters {
  requests: Record<FakeRoute, number>;
  /** File body bytes handed to the network (hub and CDN). */
  bodyBytes: number;
  /** Requests that reached the CDN with an Authorization header (must stay 0). */
  cdnAuthorization: number;
  log: FakeRequest[];
}

function sha1Hex(...parts: (string | Uint8Array)[]): string {
  const hash = createHash("sha1");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function gitBlobId(content: Uint8Array): string {
  return sha1Hex(`blob ${content.length}\0`, content);
}

/** Deterministic pseudo-random bytes (xorshift32), so tests can build content of any size. */
export function fakeBytes(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** The sha256 of some bytes, as the store names LFS blobs. */
export { sha256Hex };

function json(value: unknown, init: ResponseInit = {}): Response {
  return new Response(JSON.stringify(value), {
    ...init,
    headers: { "content-type": "application/json; charset=utf-8", ...init.headers },
  });
}

function hubError(status: number, code: string, message: string): Response {
  return json({ error: message }, {
    status,
    headers: { "x-error-code": code, "x-error-message": message },
  });
}

/** Options for {@linkcode FakeHub.start}. */
export interface FakeHubOptions {
  /** The token gated repos accept. @default {"hf_test_token"} */
  token?: string;
  /** Entries per page of the tree listing (pagination with `Link`). @default {1000} */
  treePageSize?: number;
}

/** A running fake hub; {@linkcode FakeHub.close} (or `await using`) stops it. */
export class FakeHub implements AsyncDisposable {
  /** The hub, as `HF_ENDPOINT`. */
  readonly url: string;
  /** The CDN that LFS downloads are redirected to: another origin. */
  readonly cdnUrl: string;
  /** Fault switches. */
  readonly faults: FakeFaults = {
    throttleBytesPerSec: 0,
    cutAfterBytes: undefined,
    stallAfterBytes: undefined,
    failNext: undefined,
    wrongBodies: 0,
  };
  /** Counters. */
  counters: FakeCounters = FakeHub.#emptyCounters();
  /** The token gated repos accept. */
  readonly token: string;

  readonly #repos = new Map<string, FakeRepo>();
  readonly #blobs = new Map<string, FakeFile>();
  /** CDN validator generation per sha256 (bumped by {@linkcode FakeHub.changeEtag}). */
  readonly #generation = new Map<string, number>();
  readonly #treePageSize: number;
  readonly #abort = new AbortController();
  readonly #servers: Deno.HttpServer[] = [];
  readonly #streams = new Set<{ stop(): void }>();
  #commitCounter = 0;

  private constructor(hubPort: number, cdnPort: number, options: FakeHubOptions) {
    this.url = `http://127.0.0.1:${hubPort}`;
    this.cdnUrl = `http://localhost:${cdnPort}`;
    this.token = options.token ?? "hf_test_token";
    this.#treePageSize = options.treePageSize ?? 1000;
  }

  static #emptyCounters(): FakeCounters {
    return {
      requests: { revision: 0, tree: 0, resolve: 0, cdn: 0, other: 0 },
      bodyBytes: 0,
      cdnAuthorization: 0,
      log: [],
    };
  }

  /** Starts the hub and its CDN on 127.0.0.1 (ephemeral ports). */
  static start(options: FakeHubOptions = {}): FakeHub {
    // The handlers need the hub, which needs the ports: bind them through a holder.
    const holder: { hub?: FakeHub } = {};
    // A cut body is a deliberate fault: keep it out of the test output.
    const quiet = {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      onError: () => new Response(null, { status: 500 }),
    };
    const cdn = Deno.serve(
      quiet,
      (request) => (holder.hub as FakeHub).#handleCdn(request),
    );
    const main = Deno.serve(
      quiet,
      (request) => (holder.hub as FakeHub).#handleHub(request),
    );
    const hub = new FakeHub(main.addr.port, cdn.addr.port, options);
    hub.#servers.push(main, cdn);
    holder.hub = hub;
    return hub;
  }

  /** Stops both servers and every body still streaming. */
  async close(): Promise<void> {
    for (const stream of this.#streams) stream.stop();
    this.#abort.abort();
    await Promise.all(this.#servers.map((server) => server.shutdown()));
  }

  /** Stops the hub. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Zeroes the counters (e.g. between a first and a second run). */
  resetCounters(): void {
    this.counters = FakeHub.#emptyCounters();
  }

  /**
   * Creates a repo (or adds a commit to it) with `files` and points `branch` at the new commit.
   *
   * @returns the commit sha.
   */
  commit(
    repo: string,
    files: readonly FakeFileInput[],
    options: { branch?: string; gated?: boolean } = {},
  ): string {
    let entry = this.#repos.get(repo);
    if (!entry) {
      entry = { gated: options.gated ?? false, refs: new Map(), commits: new Map() };
      this.#repos.set(repo, entry);
    }
    const sha = sha1Hex(`${repo}\0${++this.#commitCounter}\0${crypto.randomUUID()}`);
    const stored = files.map((file): FakeFile => {
      const lfs = file.lfs ?? file.path.endsWith(".gguf");
      const sha256 = sha256Hex(file.content);
      const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\n` +
        `size ${file.content.length}\n`;
      const fake = {
        path: file.path,
        content: file.content,
        lfs,
        oid: lfs ? gitBlobId(new TextEncoder().encode(pointer)) : gitBlobId(file.content),
        sha256,
        pointerSize: pointer.length,
      };
      if (lfs) this.#blobs.set(sha256, fake);
      return fake;
    });
    entry.commits.set(sha, stored);
    entry.refs.set(options.branch ?? "main", sha);
    return sha;
  }

  /** Points a tag (or branch) at an existing commit. */
  tag(repo: string, name: string, commit: string): void {
    this.#repos.get(repo)?.refs.set(name, commit);
  }

  /**
   * Changes the ETag that the CDN (or the hub, for small files) serves for a content, as a
   * re-upload would: a resume with the old ETag in `If-Range` then gets the whole file.
   */
  changeEtag(sha256: string): void {
    this.#generation.set(sha256, (this.#generation.get(sha256) ?? 0) + 1);
  }

  /** The CDN (or small-file) validator of a content. */
  etagOf(file: { sha256: string; lfs: boolean; oid: string }): string {
    const generation = this.#generation.get(file.sha256) ?? 0;
    const base = file.lfs ? file.sha256.slice(0, 32) : file.oid;
    return generation === 0 ? `"${base}"` : `"${base}-${generation}"`;
  }

  #record(request: Request, route: FakeRoute, status: number): void {
    this.counters.requests[route]++;
    this.counters.log.push({
      route,
      path: new URL(request.url).pathname,
      status,
      range: request.headers.get("range"),
      ifRange: request.headers.get("if-range"),
      authorization: request.headers.has("authorization"),
      at: performance.now(),
    });
  }

  #injectedFailure(route: FakeRoute): Response | undefined {
    const fail = this.faults.failNext;
    if (!fail || fail.count <= 0 || (fail.routes && !fail.routes.includes(route))) return;
    if (fail.after) {
      fail.after--;
      return;
    }
    fail.count--;
    const headers: Record<string, string> = {};
    if (fail.retryAfter !== undefined) headers["retry-after"] = fail.retryAfter;
    return json({ error: `injected ${fail.status}` }, { status: fail.status, headers });
  }

  #authorized(request: Request, repo: FakeRepo): boolean {
    return !repo.gated || request.headers.get("authorization") === `Bearer ${this.token}`;
  }

  #handleHub(request: Request): Response {
    const url = new URL(request.url);
    const path = url.pathname;
    let match: RegExpExecArray | null;
    let route: FakeRoute = "other";
    let response: Response;
    if ((match = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path))) {
      route = "revision";
      response = this.#injectedFailure(route) ??
        this.#revision(request, match[1] as string, decodeURIComponent(match[2] as string));
    } else if ((match = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(path))) {
      route = "tree";
      response = this.#injectedFailure(route) ??
        this.#tree(request, match[1] as string, decodeURIComponent(match[2] as string), url);
    } else if ((match = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path))) {
      route = "resolve";
      const file = (match[3] as string).split("/").map(decodeURIComponent).join("/");
      response = this.#injectedFailure(route) ??
        this.#resolve(request, match[1] as string, decodeURIComponent(match[2] as string), file);
    } else {
      response = hubError(404, "NotFound", "Not Found");
    }
    this.#record(request, route, response.status);
    return response;
  }

  #lookup(
    request: Request,
    repoId: string,
    revision: string,
  ): { repo: FakeRepo; sha: string; files: FakeFile[] } | Response {
    const repo = this.#repos.get(repoId);
    if (!repo) {
      return hubError(
        401,
        "RepoNotFound",
        "Repository not found",
      );
    }
    if (!this.#authorized(request, repo)) {
      return hubError(
        401,
        "GatedRepo",
        `Access to model ${repoId} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
      );
    }
    const sha = repo.refs.get(revision) ?? (repo.commits.has(revision) ? revision : undefined);
    const files = sha === undefined ? undefined : repo.commits.get(sha);
    if (sha === undefined || files === undefined) {
      return hubError(404, "RevisionNotFound", `Invalid rev id: ${revision}`);
    }
    return { repo, sha, files };
  }

  #revision(request: Request, repoId: string, revision: string): Response {
    const found = this.#lookup(request, repoId, revision);
    if (found instanceof Response) return found;
    return json({
      _id: sha1Hex(repoId).slice(0, 24),
      id: repoId,
      modelId: repoId,
      author: repoId.split("/")[0],
      sha: found.sha,
      lastModified: new Date(0).toISOString(),
      private: false,
      gated: found.repo.gated ? "auto" : false,
      disabled: false,
      downloads: 0,
      likes: 0,
      tags: ["gguf"],
      library_name: "gguf",
      createdAt: new Date(0).toISOString(),
      siblings: found.files.map((file) => ({ rfilename: file.path })),
    });
  }

  #tree(request: Request, repoId: string, revision: string, url: URL): Response {
    const found = this.#lookup(request, repoId, revision);
    if (found instanceof Response) return found;
    const directories = new Set<string>();
    for (const file of found.files) {
      const parts = file.path.split("/");
      for (let i = 1; i < parts.length; i++) directories.add(parts.slice(0, i).join("/"));
    }
    const entries = [
      ...[...directories].map((path) => ({
        type: "directory",
        oid: sha1Hex("tree", path),
        size: 0,
        path,
      })),
      ...found.files.map((file) => ({
        type: "file",
        oid: file.oid,
        size: file.content.length,
        path: file.path,
        ...(file.lfs
          ? { lfs: { oid: file.sha256, size: file.content.length, pointerSize: file.pointerSize } }
          : {}),
      })),
    ];
    const cursor = Number(url.searchParams.get("cursor") ?? "0");
    const page = entries.slice(cursor, cursor + this.#treePageSize);
    const headers: Record<string, string> = {};
    if (cursor + this.#treePageSize < entries.length) {
      const next = new URL(url);
      next.searchParams.set("cursor", String(cursor + this.#treePageSize));
      headers["link"] = `<${next.href}>; rel="next"`;
    }
    return json(page, { headers });
  }

  #resolve(request: Request, repoId: string, revision: string, path: string): Response {
    const found = this.#lookup(request, repoId, revision);
    if (found instanceof Response) return found;
    const file = found.files.find((f) => f.path === path);
    if (!file) return hubError(404, "EntryNotFound", `${path} does not exist on "${revision}"`);
    const common = { "x-repo-commit": found.sha, "accept-ranges": "bytes" };
    if (file.lfs) {
      return new Response(null, {
        status: 302,
        headers: {
          ...common,
          location: `${this.cdnUrl}/repos/${file.sha256}?X-Amz-Signature=fake&expires=0`,
          etag: `"${file.oid}"`,
          "x-linked-etag": `"${file.sha256}"`,
          "x-linked-size": String(file.content.length),
        },
      });
    }
    return this.#serveBody(request, file, common);
  }

  #handleCdn(request: Request): Response {
    const match = /^\/repos\/([0-9a-f]{64})$/.exec(new URL(request.url).pathname);
    if (request.headers.has("authorization")) this.counters.cdnAuthorization++;
    const file = match ? this.#blobs.get(match[1] as string) : undefined;
    const response = this.#injectedFailure("cdn") ??
      (file ? this.#serveBody(request, file, {}) : new Response("NoSuchKey", { status: 404 }));
    this.#record(request, "cdn", response.status);
    return response;
  }

  /** 200 or 206 with Range/If-Range semantics, and the body faults. */
  #serveBody(request: Request, file: FakeFile, extra: Record<string, string>): Response {
    const etag = this.etagOf(file);
    const size = file.content.length;
    const range = /^bytes=(\d+)-$/.exec(request.headers.get("range") ?? "");
    const ifRange = request.headers.get("if-range");
    let start = 0;
    if (range && (ifRange === null || ifRange === etag)) start = Number(range[1]);
    if (start >= size && size > 0) {
      return new Response(null, {
        status: 416,
        headers: { ...extra, "content-range": `bytes */${size}` },
      });
    }
    const headers: Record<string, string> = {
      ...extra,
      etag,
      "accept-ranges": "bytes",
      "content-length": String(size - start),
      "content-type": "application/octet-stream",
    };
    if (start > 0) headers["content-range"] = `bytes ${start}-${size - 1}/${size}`;
    let body = file.content.subarray(start);
    if (this.faults.wrongBodies > 0) {
      this.faults.wrongBodies--;
      body = body.map((byte) => byte ^ 0x5a);
    }
    const faults = { cutAfter: this.faults.cutAfterBytes, stallAfter: this.faults.stallAfterBytes };
    this.faults.cutAfterBytes = undefined;
    this.faults.stallAfterBytes = undefined;
    const status = start > 0 ? 206 : 200;
    if (request.method === "HEAD") return new Response(null, { status, headers });
    return new Response(this.#stream(body, faults), { status, headers });
  }

  #stream(
    body: Uint8Array,
    faults: { cutAfter: number | undefined; stallAfter: number | undefined },
  ): ReadableStream<Uint8Array> {
    const { cutAfter, stallAfter } = faults;
    let sent = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wake: (() => void) | undefined;
    let finished = false;
    const handle = {
      stop() {
        clearTimeout(timer);
        wake?.();
      },
    };
    this.#streams.add(handle);
    const done = () => {
      finished = true;
      handle.stop();
      this.#streams.delete(handle);
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (stallAfter !== undefined && sent >= stallAfter) {
          // Silent until the client gives up (cancel) or the hub closes.
          await new Promise<void>((resolve) => wake = resolve);
          if (finished) return;
        }
        if (this.#abort.signal.aborted) {
          done();
          controller.error(new Error("fake hub closed"));
          return;
        }
        if (cutAfter !== undefined && sent >= cutAfter) {
          done();
          controller.error(new Error("fake hub: connection cut"));
          return;
        }
        if (sent >= body.length) {
          done();
          controller.close();
          return;
        }
        const rate = this.faults.throttleBytesPerSec;
        let chunk = rate > 0 ? Math.max(1024, Math.floor(rate / 20)) : 64 * 1024;
        chunk = Math.min(chunk, body.length - sent);
        if (cutAfter !== undefined) chunk = Math.min(chunk, cutAfter - sent);
        if (stallAfter !== undefined && sent < stallAfter) {
          chunk = Math.min(chunk, stallAfter - sent);
        }
        if (rate > 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, (chunk / rate) * 1000);
          });
          if (this.#abort.signal.aborted || finished) return;
        }
        controller.enqueue(body.slice(sent, sent + chunk));
        sent += chunk;
        this.counters.bodyBytes += chunk;
      },
      cancel: () => done(),
    }, { highWaterMark: 0 });
  }
}
