import { errorMessage } from "../_util/error_message.ts";
import { Command } from "commander";
import { z } from "zod";
import { printJson, withContext, writeStdout } from "../cli/mod.ts";
import type { ServerConfig } from "../config/mod.ts";
import { CliError, ExitCode, UsageError } from "../errors.ts";
import { readServerToken } from "./server_token.ts";

/** The columns `status` shows; other fields of a row pass through to `--json`. */
const RowSchema = z.looseObject({
  id: z.string(),
  model: z.string(),
  state: z.string(),
  state_label: z.string(),
  pid: z.number().nullable(),
  restarts: z.looseObject({ used: z.number(), budget: z.number() }),
  uptime_s: z.number().nullable(),
});
const MatrixSchema = z.looseObject({ runtimes: z.array(RowSchema) });

/** One row of the runtime matrix as `GET /runtimes` answers it. */
export type StatusRow = z.infer<typeof RowSchema>;

/** The URL of the local endpoint from `[server]`: a wildcard host is reached on loopback. */
export function defaultServerUrl(server: Pick<ServerConfig, "host" | "port">): string {
  const host = server.host === "0.0.0.0"
    ? "127.0.0.1"
    : server.host === "::" || server.host === "[::]"
    ? "[::1]"
    : server.host.includes(":") && !server.host.startsWith("[")
    ? `[${server.host}]`
    : server.host;
  return `http://${host}:${server.port}`;
}

function formatUptime(seconds: number | null): string {
  if (seconds === null) return "-";
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(s / 3600);
  return `${h}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The runtime matrix as an aligned text table, one runtime per line. */
export function formatStatusTable(rows: readonly StatusRow[]): string {
  const header = ["RUNTIME", "MODEL", "STATE", "PID", "RESTARTS", "UPTIME", "DETAIL"];
  const lines = rows.map((r) => [
    r.id,
    r.model,
    r.state,
    r.pid === null ? "-" : String(r.pid),
    `${r.restarts.used}/${r.restarts.budget}`,
    formatUptime(r.uptime_s),
    r.state_label,
  ]);
  const table = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))))
    .map((row) => row.join("  ").trimEnd())
    .join("\n") + "\n";
}

/** Options for {@linkcode fetchStatus}. */
export interface FetchStatusOptions {
  /** Bearer token, if the server wants one. */
  token?: string | undefined;
  /** Cancels the request. */
  signal?: AbortSignal;
}

/**
 * Reads the runtime matrix of a running server.
 *
 * @throws {CliError} exit 75 when nothing answers at `url` (the server may be starting),
 * exit 1 when the server refuses the token or answers something else.
 */
export async function fetchStatus(
  url: string,
  options: FetchStatusOptions = {},
): Promise<StatusRow[]> {
  let response: Response;
  try {
    response = await fetch(new URL("/runtimes", url), {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new CliError(
      `Cannot reach edgellm at "${url}": ${
        errorMessage(error)
      }; check that "edgellm serve" runs there, or pass its --url`,
      ExitCode.TempFail,
      { cause: error },
    );
  }
  const text = await response.text();
  if (response.status === 401) {
    throw new CliError(
      `Cannot read the runtime matrix at "${url}": the server refused the token; set the ` +
        "variable [server] token_env names to the server's token",
      ExitCode.Failed,
    );
  }
  if (!response.ok) {
    throw new CliError(
      `Cannot read the runtime matrix at "${url}": it answered HTTP ${response.status}: ` +
        `${text.slice(0, 200)}; see the server's log`,
      ExitCode.Failed,
    );
  }
  const notMatrix = (what: string, cause?: unknown) =>
    new CliError(
      `Cannot read the runtime matrix at "${url}": ${what}; check that --url names an edgellm server`,
      ExitCode.Failed,
      cause === undefined ? undefined : { cause },
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw notMatrix(`the answer is not JSON (${error.message})`, error);
  }
  const parsed = MatrixSchema.safeParse(json);
  if (!parsed.success) throw notMatrix("the answer is not an edgellm runtime matrix", parsed.error);
  return parsed.data.runtimes;
}

/** `edgellm status [--url URL] [--json]`: the runtime matrix of a running server. */
export function statusCommand(): Command {
  return new Command("status")
    .description("print the runtime matrix of a running server")
    .option("--url <url>", "the server (default: http://<[server] host>:<port>)")
    .option("--json", "machine-readable output")
    .action(withContext<{ url?: string; json?: boolean }>(async (options, context) => {
      const { server } = context.config;
      const url = options.url ?? defaultServerUrl(server);
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
        throw new UsageError(
          `Cannot use --url "${url}": give an http URL, e.g. http://127.0.0.1:8080`,
        );
      }
      const rows = await fetchStatus(url, {
        token: readServerToken(server),
        signal: context.signal,
      });
      if (options.json) return await printJson(rows);
      await writeStdout(formatStatusTable(rows));
    }));
}
