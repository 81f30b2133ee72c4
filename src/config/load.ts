import { readEnv } from "./env.ts";
import { parse as parseToml, TomlError } from "smol-toml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue } from "./config_error.ts";
import { findKeyLine } from "./key_line.ts";
import { type Config, ConfigSchema } from "./schema.ts";

/** Options for {@linkcode parseConfig} and {@linkcode loadConfig}. */
export interface ParseConfigOptions {
  /** Shown in errors. @default {"edgellm.toml"} */
  source?: string;
  /** Environment to read overrides from (`HF_ENDPOINT`, `HF_HUB_OFFLINE`). @default {readEnv()} */
  env?: Readonly<Record<string, string>>;
}

function toIssues(text: string, error: z.ZodError): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map(String);
    // An unknown key is reported on its parent; name the key itself.
    const keys = issue.code === "unrecognized_keys" ? issue.keys.map((k) => [...path, k]) : [path];
    for (const keyPath of keys) {
      const line = findKeyLine(text, keyPath);
      const message = issue.code === "unrecognized_keys" ? "unknown key" : issue.message;
      issues.push({ key: keyPath.join("."), message, ...(line === undefined ? {} : { line }) });
    }
  }
  return issues.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

/**
 * Parses and validates configuration text, applying defaults and environment overrides
 * (`HF_ENDPOINT` replaces `hub.endpoint`, a truthy `HF_HUB_OFFLINE` sets `hub.offline`).
 *
 * @throws {ConfigError} listing every syntax or validation problem with its key and line.
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): Config {
  const source = options.source ?? "edgellm.toml";
  const env = options.env ?? readEnv();
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const message = error.message.split("\n")[0] ?? "invalid TOML";
    throw new ConfigError(source, [{ key: "", message, line: error.line }], { cause: error });
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, toIssues(text, result.error));
  const config = result.data;
  const endpoint = env["HF_ENDPOINT"];
  if (endpoint) {
    const checked = ConfigSchema.shape.hub.unwrap().shape.endpoint.safeParse(endpoint);
    if (!checked.success) {
      throw new ConfigError(source, [{ key: "HF_ENDPOINT", message: "must be an http(s) URL" }]);
    }
    config.hub.endpoint = checked.data;
  }
  if (isTruthy(env["HF_HUB_OFFLINE"])) config.hub.offline = true;
  return config;
}

/**
 * Reads and validates a configuration file; `undefined` gives the built-in defaults
 * (still with environment overrides).
 *
 * @throws {ConfigError} when the file cannot be read or is not valid.
 * @throws {Deno.errors.NotCapable} when this process may not read it.
 */
export async function loadConfig(
  path: string | undefined,
  options: Omit<ParseConfigOptions, "source"> = {},
): Promise<Config> {
  if (path === undefined) return parseConfig("", { ...options, source: "built-in defaults" });
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    // Not a problem of the configuration: the CLI says which folders this edgellm may read.
    if (error instanceof Deno.errors.NotCapable) throw error;
    const reason = error instanceof Deno.errors.NotFound ? "file not found" : String(error);
    throw new ConfigError(path, [{ key: "", message: reason }], { cause: error });
  }
  return parseConfig(text, { ...options, source: path });
}
