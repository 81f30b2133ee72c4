import assert from "node:assert/strict";
import { join } from "node:path";
import { checkDenortBin, denortFailure } from "../../../src/compile/mod.ts";
import { CliError } from "../../../src/errors.ts";
import { hostTarget, TARGETS } from "../../../src/natives/mod.ts";

const HOST = hostTarget();
const OTHER = TARGETS.find((target) => target !== HOST)!;

/** What `deno compile` 2.9.6 printed here with no network (NO_COLOR). */
const OFFLINE = `Compile m.ts to out
Download https://dl.deno.land/release/v2.9.6/denort-aarch64-unknown-linux-gnu.zip
error: Writing deno compile executable to temporary file 'out.tmp-1671156190fc251a'

Caused by:
    0: Setting up base binary.
    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-aarch64-unknown-linux-gnu.zip): client error (Connect): dns error: failed to lookup address information: Name or service not known
    2: client error (Connect)
    3: dns error
    4: failed to lookup address information: Name or service not known
`;

/** What it printed with DENORT_BIN naming a missing file. */
const MISSING =
  `error: Writing deno compile executable to temporary file 'out2.tmp-45fd1835b074c8de'

Caused by:
    0: Could not find denort at '/opt/denort'
    1: No such file or directory (os error 2)
`;

Deno.test("denortFailure() says denort cannot be had, why, and how to fix it", () => {
  const message = denortFailure("aarch64-unknown-linux-gnu", OFFLINE);
  assert.ok(message);
  assert.match(
    message,
    /^Cannot compile for "aarch64-unknown-linux-gnu": .*\(denort\) cannot be had/,
  );
  assert.match(
    message,
    /https:\/\/dl\.deno\.land\/release\/v2\.9\.6\/denort-aarch64-unknown-linux-gnu\.zip/,
  );
  assert.match(message, /\(dns error: failed to lookup address information/);
  assert.match(
    message,
    /DENORT_BIN=\/path\/to\/denort deno task compile --target aarch64-unknown-linux-gnu/,
  );
});

Deno.test("denortFailure() names a DENORT_BIN that does not exist", () => {
  assert.equal(
    denortFailure("x86_64-unknown-linux-gnu", MISSING),
    `Cannot compile for "x86_64-unknown-linux-gnu": DENORT_BIN "/opt/denort" does not exist; ` +
      `point it at a denort for x86_64-unknown-linux-gnu`,
  );
});

Deno.test("denortFailure() leaves other compile failures alone", () => {
  const typeError =
    `Download https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip
Check main.ts
TS2322 [ERROR]: Type 'string' is not assignable to type 'number'.`;
  assert.equal(denortFailure("x86_64-unknown-linux-gnu", typeError), undefined);
});

async function refusal(path: string, target: Parameters<typeof checkDenortBin>[1]) {
  try {
    await checkDenortBin(path, target);
  } catch (error) {
    assert.ok(error instanceof CliError);
    assert.equal(error.exitCode, 1);
    return error.message;
  }
  assert.fail(`checkDenortBin("${path}") accepted it`);
}

Deno.test("checkDenortBin() refuses the full deno executable", async () => {
  assert.match(
    await refusal(Deno.execPath(), HOST),
    /it is the full deno executable, not denort; a binary built on it only starts the REPL/,
  );
});

Deno.test("checkDenortBin() refuses a runtime for the other architecture", async () => {
  assert.match(
    await refusal(Deno.execPath(), OTHER),
    new RegExp(`for "${OTHER}": it is built for "${HOST}"`),
  );
});

Deno.test("checkDenortBin() refuses what is not a Deno runtime", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const text = join(dir, "denort");
    await Deno.writeTextFile(text, "#!/bin/sh\n");
    assert.match(await refusal(text, HOST), /it is not a Linux executable/);
    assert.match(
      await refusal("/bin/true", HOST),
      /"\/bin\/true": it is not a Deno runtime \(denort\)/,
    );
    assert.match(
      await refusal(join(dir, "none"), HOST),
      /none": it does not exist/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
