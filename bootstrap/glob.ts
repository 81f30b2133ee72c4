/**
 * Compiles an `include` glob with the hub's (`fnmatch`) meaning: `*` matches any run of
 * characters including `/`, `?` one character, `[abc]`/`[!abc]` a class; a pattern ending in
 * `/` matches everything below that folder. So `*Q4_K_M.gguf` also selects
 * `sub/model-Q4_K_M.gguf`, as `huggingface-cli download --include` would.
 */
export function globToRegExp(glob: string): RegExp {
  const pattern = glob.endsWith("/") ? `${glob}*` : glob;
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === "*") {
      source += ".*";
    } else if (char === "?") {
      source += ".";
    } else if (char === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end === -1) {
        source += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      source += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`, "s");
}

/** Whether a repo path matches any of the globs. */
export function matchesAny(path: string, globs: readonly string[]): boolean {
  return globs.some((glob) => globToRegExp(glob).test(path));
}
