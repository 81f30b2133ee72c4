import assert from "node:assert/strict";
import { runEdgellm } from "../../_util/cli.ts";

const COMMANDS = [
  [],
  ["bootstrap"],
  ["bundle"],
  ["bundle", "export"],
  ["serve"],
  ["run"],
  ["status"],
  ["doctor"],
  ["natives"],
  ["version"],
];

Deno.test("every command prints its --help and exits 0 under the product's permissions", async () => {
  const home = await Deno.makeTempDir({ prefix: "edgellm_help_test_" });
  try {
    for (const command of COMMANDS) {
      const result = await runEdgellm([...command, "--help"], { home });
      const name = ["edgellm", ...command].join(" ");
      assert.equal(result.code, 0, `${name} --help: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^Usage: ${name} `), `${name} --help`);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
