import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { sha256File } from "../src/natives/mod.ts";
import { gunzipFile, readLines, run, tempSibling } from "./_util.ts";
import { ignoreNotFound } from "../src/_util/ignore_not_found.ts";
import { errorMessage } from "../src/_util/error_message.ts";

/** The apt sources file that names this machine's Debian mirror. */
export const APT_SOURCES = "/etc/apt/sources.list.d/debian.sources";

/** The key ring that signs Debian's Release files, when `debian-archive-keyring` is installed. */
const ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

/** Downloads that fail this many times in a row give up. */
const FETCH_ATTEMPTS = 3;

/**
 * Returns the first mirror URI of a deb822 apt sources file (`URIs:` field), without a
 * trailing slash.
 *
 * @throws {SyntaxError} when the text has no `URIs:` line.
 */
export function parseAptMirror(text: string): string {
  const uri = /^URIs:\s*(\S+)/m.exec(text)?.[1];
  if (uri === undefined) throw new SyntaxError('Cannot find the Debian mirror: no "URIs:" line');
  return uri.replace(/\/+$/, "");
}

/** One binary package as the suite's `Packages` index describes it. */
export interface DebPackage {
  /** The `Package:` field, e.g. `libc6`. */
  name: string;
  /** The `Version:` field, e.g. `2.43-7`. */
  version: string;
  /** The `Architecture:` field: a Debian architecture (`amd64`, `arm64`) or `all`. */
  architecture: string;
  /** Path of the .deb below the mirror, e.g. `pool/main/g/glibc/libc6_2.43-7_amd64.deb`. */
  filename: string;
  /** The `SHA256:` field: the hex digest the downloaded .deb must have. */
  sha256: string;
}

/** The parts of a suite's Release file edgellm uses. */
export interface Release {
  /** The `Date:` field. */
  date: string;
  /** Index path (e.g. `main/binary-amd64/Packages.gz`) to its sha256. */
  sha256: Map<string, string>;
}

/** Options for {@linkcode DebianArchive}. */
export interface DebianArchiveOptions {
  /** Mirror URI, e.g. the `URIs:` of {@linkcode APT_SOURCES}. */
  mirror: string;
  /** Suite, e.g. `unstable`. */
  suite: string;
  /** Folder for downloads, which are kept by sha256. */
  cacheDir: string;
  /**
   * Never touch the network: use the Release file of the last online run and cached files.
   * @default false
   */
  offline?: boolean;
  /** Receives one line per step. @default nothing */
  log?: (line: string) => void;
  /** Cancels downloads. */
  signal?: AbortSignal;
}

/**
 * Reads one suite of a Debian mirror: its Release file, package and contents indexes and
 * .deb files. Everything but the Release file is fetched by sha256 and cached under that
 * name, so a file already in the cache never touches the network; the Release file is
 * fetched anew unless `offline`. Each index is read once per instance.
 */
export class DebianArchive {
  readonly #options: DebianArchiveOptions;
  readonly #cacheDir: string;
  #release: Promise<Release> | undefined;
  readonly #packages = new Map<string, Promise<Map<string, DebPackage>>>();

  /** Prepares access; nothing is fetched until a method needs it. */
  constructor(options: DebianArchiveOptions) {
    this.#options = options;
    this.#cacheDir = join(options.cacheDir, "debian");
  }

  /**
   * The suite's `InRelease`, its signature checked with `gpgv` against Debian's key ring
   * when both are installed (its Valid-Until is not enforced: mirrors may be snapshots).
   */
  release(): Promise<Release> {
    return this.#release ??= this.#fetchRelease();
  }

  /** The suite's `main` packages of a Debian architecture, by package name. */
  packages(arch: string): Promise<Map<string, DebPackage>> {
    let packages = this.#packages.get(arch);
    if (packages === undefined) {
      packages = this.#readPackages(arch);
      this.#packages.set(arch, packages);
    }
    return packages;
  }

  /**
   * Which package ships each file directly inside one of `dirs` (e.g.
   * `usr/lib/x86_64-linux-gnu`), from the suite's `Contents-<arch>` index: path → package.
   */
  async contents(arch: string, dirs: readonly string[]): Promise<Map<string, string>> {
    const path = await this.#index(`main/Contents-${arch}.gz`);
    const prefixes = dirs.map((dir) => `${dir}/`);
    const owners = new Map<string, string>();
    for await (const line of readLines(await gunzipFile(path))) {
      // "<path><spaces><section/package>[,<section/package>...]"; paths may contain spaces.
      const prefix = prefixes.find((prefix) => line.startsWith(prefix));
      if (prefix === undefined) continue;
      const split = line.search(/\s+\S+$/);
      const file = line.slice(0, split);
      if (file.indexOf("/", prefix.length) >= 0 || owners.has(file)) continue;
      const owner = line.slice(split).trim().split(",")[0]!;
      owners.set(file, owner.slice(owner.lastIndexOf("/") + 1));
    }
    return owners;
  }

  /** Downloads (or finds in the cache) a package's .deb, verified against its sha256. */
  deb(pkg: DebPackage): Promise<string> {
    return this.#cached(`${this.#options.mirror}/${pkg.filename}`, pkg.sha256, ".deb");
  }

  async #fetchRelease(): Promise<Release> {
    const url = `${this.#options.mirror}/dists/${this.#options.suite}/InRelease`;
    // The last Release fetched is kept so an offline run can rebuild from the cache.
    const cached = join(this.#cacheDir, `${this.#options.suite}.InRelease`);
    let signed: string;
    if (this.#options.offline) {
      try {
        signed = await Deno.readTextFile(cached);
      } catch (error) {
        ignoreNotFound(error);
        throw new Error(
          `Cannot read the Release of "${this.#options.suite}" offline: "${cached}" is missing; ` +
            `run once online`,
          { cause: error },
        );
      }
    } else {
      signed = new TextDecoder().decode(await this.#fetchBytes(url));
      await Deno.mkdir(this.#cacheDir, { recursive: true });
      const temp = tempSibling(this.#cacheDir, basename(cached));
      await Deno.writeTextFile(temp, signed);
      await Deno.rename(temp, cached);
    }
    const text = await verifiedText(signed, this.#options.log);
    const date = /^Date:\s*(.+)$/m.exec(text)?.[1];
    const section = /^SHA256:\n((?: .*\n?)*)/m.exec(text)?.[1];
    if (date === undefined || section === undefined) {
      throw new SyntaxError(`Cannot parse "${url}": no Date or SHA256 field`);
    }
    const sha256 = new Map<string, string>();
    for (const line of section.split("\n")) {
      const [hash, , path] = line.trim().split(/\s+/);
      if (hash !== undefined && path !== undefined) sha256.set(path, hash);
    }
    return { date, sha256 };
  }

  /** Fetches an index of the suite by its sha256 (`by-hash`, so a mirror update mid-run is harmless). */
  async #index(path: string): Promise<string> {
    const sha256 = (await this.release()).sha256.get(path);
    if (sha256 === undefined) {
      throw new Error(`Cannot find "${path}" in the Release file of "${this.#options.suite}"`);
    }
    const dir = path.slice(0, path.lastIndexOf("/"));
    const url =
      `${this.#options.mirror}/dists/${this.#options.suite}/${dir}/by-hash/SHA256/${sha256}`;
    return await this.#cached(url, sha256, ".gz");
  }

  async #readPackages(arch: string): Promise<Map<string, DebPackage>> {
    const path = await this.#index(`main/binary-${arch}/Packages.gz`);
    const packages = new Map<string, DebPackage>();
    let fields = new Map<string, string>();
    const flush = () => {
      const [name, version, architecture, filename, sha256] = [
        "Package",
        "Version",
        "Architecture",
        "Filename",
        "SHA256",
      ].map((key) => fields.get(key));
      if (name && version && architecture && filename && sha256) {
        packages.set(name, { name, version, architecture, filename, sha256 });
      }
      fields = new Map();
    };
    for await (const line of readLines(await gunzipFile(path))) {
      if (line === "") flush();
      else if (line[0] !== " ") {
        const colon = line.indexOf(":");
        if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
      }
    }
    flush();
    return packages;
  }

  /** Returns `<cache>/<sha256><ext>`, downloading `url` first unless a verified copy is there. */
  async #cached(url: string, sha256: string, ext: string): Promise<string> {
    const path = join(this.#cacheDir, `${sha256}${ext}`);
    try {
      if ((await sha256File(path)).sha256 === sha256) return path;
      this.#options.log?.(`cache: "${path}" is corrupt, fetching it again`);
    } catch (error) {
      ignoreNotFound(error);
    }
    await Deno.mkdir(this.#cacheDir, { recursive: true });
    const temp = tempSibling(this.#cacheDir, `${sha256}${ext}`);
    try {
      const bytes = await this.#fetchBytes(url);
      const actual = createHash("sha256").update(bytes).digest("hex");
      if (actual !== sha256) {
        throw new Error(
          `Cannot verify "${url}": its sha256 is "${actual}", the archive index says "${sha256}"`,
        );
      }
      await Deno.writeFile(temp, bytes);
      await Deno.rename(temp, path);
    } finally {
      await Deno.remove(temp).catch(ignoreNotFound);
    }
    return path;
  }

  async #fetchBytes(url: string): Promise<Uint8Array> {
    if (this.#options.offline) {
      throw new Error(`Cannot fetch "${url}": offline, and it is not in the cache`);
    }
    for (let attempt = 1;; attempt++) {
      try {
        this.#options.log?.(`fetch ${url}`);
        const response = await fetch(url, { signal: this.#options.signal ?? null });
        if (!response.ok) {
          await response.body?.cancel();
          const error = new Error(`Cannot fetch "${url}": HTTP ${response.status}`);
          if (response.status < 500) throw Object.assign(error, { permanent: true });
          throw error;
        }
        return await response.bytes();
      } catch (error) {
        const permanent = (error as { permanent?: boolean }).permanent === true ||
          this.#options.signal?.aborted === true;
        if (permanent || attempt >= FETCH_ATTEMPTS) throw error;
        this.#options.log?.(`retry ${url}: ${errorMessage(error)}`);
      }
    }
  }
}

/**
 * Returns the signed text of a clearsigned file: checked by `gpgv` when it and the archive
 * key ring are installed, else taken as it is (with a log line saying so).
 */
async function verifiedText(signed: string, log?: (line: string) => void): Promise<string> {
  let keyring = true;
  try {
    await Deno.stat(ARCHIVE_KEYRING);
  } catch (error) {
    ignoreNotFound(error);
    keyring = false;
  }
  if (keyring) {
    const temp = await Deno.makeTempFile({ suffix: ".InRelease" });
    try {
      await Deno.writeTextFile(temp, signed);
      const text = await run("gpgv", ["--keyring", ARCHIVE_KEYRING, "--output", "-", temp]);
      log?.("InRelease: signature good");
      return text;
    } catch (error) {
      ignoreNotFound(error);
    } finally {
      await Deno.remove(temp);
    }
  }
  log?.("InRelease: signature not checked (gpgv or the Debian archive key ring is missing)");
  const body =
    /^-----BEGIN PGP SIGNED MESSAGE-----\n(?:.+\n)*\n([\s\S]*?)\n-----BEGIN PGP SIGNATURE-----/m
      .exec(signed)?.[1];
  if (body === undefined) throw new SyntaxError("Cannot parse InRelease: not a clearsigned file");
  return body.replace(/^- /gm, "");
}
