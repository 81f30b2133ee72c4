/** Splits a TOML key (`a."b.c".d`) into its parts. */
function splitKey(key: string): string[] {
  const parts: string[] = [];
  for (const match of key.matchAll(/\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|$)/g)) {
    const raw = match[1] ?? "";
    parts.push(/^["']/.test(raw) ? raw.slice(1, -1) : raw);
  }
  return parts;
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((part, i) => part === path[i]);
}

/**
 * Finds the 1-based line of `path` in TOML `text`: the line that defines the key itself, or
 * else the line of the closest enclosing table or inline table. smol-toml reports lines only
 * for syntax errors, so validation errors locate their key here.
 *
 * @returns the line number, or `undefined` when no line defines the key or a parent of it.
 */
export function findKeyLine(text: string, path: readonly string[]): number | undefined {
  let table: string[] = [];
  let best: { line: number; depth: number } | undefined;
  text.split("\n").forEach((rawLine, index) => {
    const line = rawLine.trim();
    let defined: string[] | undefined;
    const header = /^\[\[?\s*([^\]]+?)\s*\]\]?/.exec(line);
    if (header) {
      table = splitKey(header[1] ?? "");
      defined = table;
    } else {
      const assignment = /^((?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.\s-])+?)\s*=/.exec(line);
      if (assignment) defined = [...table, ...splitKey(assignment[1] ?? "")];
    }
    if (defined && defined.length > 0 && startsWith(path, defined)) {
      if (!best || defined.length > best.depth) best = { line: index + 1, depth: defined.length };
    }
  });
  return best?.line;
}
