import assert from "node:assert/strict";
import {
  assertSafeEtag,
  assertSafeRepoId,
  assertSafeRepoPath,
  assertSafeRevision,
  repoFolderName,
  UnsafePathError,
} from "../../bootstrap/repo_path.ts";
import { globToRegExp, matchesAny } from "../../bootstrap/glob.ts";

Deno.test("assertSafeRepoPath refuses absolute, parent, backslash, NUL and empty segments", () => {
  for (
    const path of ["/etc/passwd", "../x", "a/../../x", "a/..", "a\\b", "a\0b", "", "a//b", "./a"]
  ) {
    assert.throws(() => assertSafeRepoPath(path), UnsafePathError, JSON.stringify(path));
  }
  for (const path of ["model.gguf", "sub/dir/model-00001-of-00002.gguf", "a..b/c.d"]) {
    assert.doesNotThrow(() => assertSafeRepoPath(path), path);
  }
});

Deno.test("assertSafeRevision allows nested branch names but not escapes", () => {
  assert.doesNotThrow(() => assertSafeRevision("refs/pr/1"));
  assert.throws(() => assertSafeRevision("../../x"), UnsafePathError);
});

Deno.test("assertSafeEtag and assertSafeRepoId accept only the hub's shapes", () => {
  assert.doesNotThrow(() => assertSafeEtag("a".repeat(40)));
  assert.doesNotThrow(() => assertSafeEtag("b".repeat(64)));
  assert.throws(() => assertSafeEtag("../blob"), UnsafePathError);
  assert.throws(() => assertSafeEtag("A".repeat(64)), UnsafePathError);
  assert.throws(() => assertSafeRepoId("org/.."), UnsafePathError);
  assert.throws(() => assertSafeRepoId("a/b/c"), UnsafePathError);
  assert.equal(repoFolderName("TheBloke/Llama-2-7B-GGUF"), "models--TheBloke--Llama-2-7B-GGUF");
});

Deno.test("globToRegExp matches like fnmatch, with * crossing folders", () => {
  assert.ok(matchesAny("sub/model-Q4_K_M.gguf", ["*Q4_K_M.gguf"]));
  assert.ok(matchesAny("model.Q8_0.gguf", ["*.gguf"]));
  assert.ok(!matchesAny("model.gguf.json", ["*.gguf"]));
  assert.ok(matchesAny("model-00001-of-00002.gguf", ["model-0000?-of-*.gguf"]));
  assert.ok(matchesAny("q4.gguf", ["q[0-9].gguf"]));
  assert.ok(!matchesAny("qx.gguf", ["q[!x].gguf"]));
  assert.ok(matchesAny("sub/dir/a.bin", ["sub/"]));
  assert.ok(globToRegExp("a.b(c)+").test("a.b(c)+"));
});
