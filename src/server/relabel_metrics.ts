/** One scraped exposition, from the runtime it came from. */
export interface ScrapedMetrics {
  /** Runtime id, added to every sample as `runtime="<id>"`. */
  runtime: string;
  /** Prometheus text as llama-server's `/metrics` returns it. */
  text: string;
}

interface Family {
  help?: string;
  type?: string;
  samples: string[];
}

/** `# HELP name text` or `# TYPE name type`. */
const COMMENT = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/;
/** `name{labels} value [timestamp]` or `name value [timestamp]`. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(.+)$/;

function rename(name: string, prefix: string): string {
  return prefix + name.replaceAll(":", "_");
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

/**
 * Merges the `/metrics` texts of several llama-servers into one exposition: every name gets
 * `prefix` (and loses the colons that Prometheus reserves for recording rules), every sample
 * gets a `runtime` label, and each family's `HELP`/`TYPE` appears once, followed by the
 * samples of all runtimes (a repeated `TYPE` line would make the exposition unparsable).
 *
 * @example
 * ```ts
 * relabelMetrics([{ runtime: "chat", text: "# TYPE llamacpp:x counter\nllamacpp:x 3\n" }]);
 * // "# TYPE edgellm_llamacpp_x counter\nedgellm_llamacpp_x{runtime=\"chat\"} 3\n"
 * ```
 */
export function relabelMetrics(
  scraped: readonly ScrapedMetrics[],
  prefix = "edgellm_",
): string {
  const families = new Map<string, Family>();
  function family(name: string): Family {
    let found = families.get(name);
    if (!found) families.set(name, found = { samples: [] });
    return found;
  }
  for (const { runtime, text } of scraped) {
    const runtimeLabel = `runtime="${escapeLabel(runtime)}"`;
    let current: Family | undefined;
    let currentName = "";
    for (const line of text.split("\n")) {
      const comment = line.match(COMMENT);
      if (comment) {
        const [, kind, name = "", rest = ""] = comment;
        currentName = name;
        current = family(rename(name, prefix));
        if (kind === "HELP") current.help ??= rest;
        else current.type ??= rest;
        continue;
      }
      const sample = line.match(SAMPLE);
      if (!sample) continue;
      const [, name = "", , labels, value = ""] = sample;
      // Histogram and summary samples (`_bucket`, `_sum`, `_count`) follow their family's
      // TYPE line; anything else is a family of its own.
      const owner = current && name.startsWith(currentName)
        ? current
        : family(rename(name, prefix));
      const allLabels = labels ? `${runtimeLabel},${labels}` : runtimeLabel;
      owner.samples.push(`${rename(name, prefix)}{${allLabels}} ${value}`);
    }
  }
  let out = "";
  for (const [name, { help, type, samples }] of families) {
    if (samples.length === 0) continue;
    if (help !== undefined) out += `# HELP ${name} ${help}\n`;
    if (type !== undefined) out += `# TYPE ${name} ${type}\n`;
    out += samples.join("\n") + "\n";
  }
  return out;
}
