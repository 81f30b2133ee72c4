import assert from "node:assert/strict";
import { parseAptMirror } from "../../native/mod.ts";

Deno.test("parseAptMirror returns the first URIs of a deb822 sources file", () => {
  const text = [
    "Types: deb",
    "# a comment",
    "URIs: http://mirror.example/debian/",
    "Suites: bookworm",
    "",
    "Types: deb",
    "URIs: http://mirror.example/debian-security",
    "",
  ].join("\n");
  assert.equal(parseAptMirror(text), "http://mirror.example/debian");
});

Deno.test("parseAptMirror throws a SyntaxError when there is no URIs line", () => {
  assert.throws(() => parseAptMirror("Types: deb\n"), SyntaxError);
});
