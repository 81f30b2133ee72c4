import assert from "node:assert/strict";
import { join } from "node:path";
import { BootstrapStateSchema } from "../../bootstrap/state_file.ts";
import { bootstrapFixture, GGUF, REPO, repoDir, sha256OfFile } from "../_util/bootstrap_fixture.ts";
import { runEdgellm, spawnEdgellm } from "../_util/cli.ts";
import { waitFor } from "../_util/wait_for.ts";

const ARGS = ["bootstrap", "--hf-repo", REPO, "--include", GGUF];

async function lockHolder(home: string): Promise<number | undefined> {
  try {
    const text = (await Deno.readTextFile(join(home, "state", "bootstrap.lock"))).trim();
    return text ? Number(text) : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

Deno.test("a second concurrent bootstrap exits 75 at once naming the holder; state stays intact", async () => {
  await using fx = await bootstrapFixture({ size: 400_000 });
  fx.hub.faults.throttleBytesPerSec = 100_000;
  const first = await spawnEdgellm(ARGS, { home: fx.home, env: fx.env });
  let firstDone = false;
  const firstOutput = first.output().finally(() => firstDone = true);
  await waitFor(
    "the first run to hold the lock",
    () => lockHolder(fx.home).then((pid) => pid === first.pid),
  );

  const second = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(second.code, 75);
  assert.match(second.stderr, new RegExp(`another bootstrap \\(process ${first.pid}\\)`));
  assert.match(second.stderr, /--wait SECONDS/);
  assert.equal(firstDone, false, "the second run gave up while the first still ran");

  const output = await firstOutput;
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const state = JSON.parse(await Deno.readTextFile(join(fx.home, "state", "bootstrap.json")));
  assert.ok(BootstrapStateSchema.safeParse(state).success);
  assert.equal(
    await sha256OfFile(join(repoDir(fx.home), "snapshots", fx.commit, GGUF)),
    fx.sha256,
  );
  assert.equal(fx.hub.counters.requests.cdn, 1, "the second run fetched nothing");
});

Deno.test("bootstrap --wait waits for the running bootstrap and then has nothing to do", async () => {
  await using fx = await bootstrapFixture({ size: 200_000 });
  fx.hub.faults.throttleBytesPerSec = 200_000;
  const first = await spawnEdgellm(ARGS, { home: fx.home, env: fx.env });
  const firstOutput = first.output();
  await waitFor(
    "the first run to hold the lock",
    () => lockHolder(fx.home).then((pid) => pid === first.pid),
  );
  const second = await runEdgellm([...ARGS, "--wait", "60", "--json"], {
    home: fx.home,
    env: fx.env,
  });
  assert.equal((await firstOutput).code, 0);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).bytes_downloaded, 0);
  assert.equal(fx.hub.counters.requests.cdn, 1);
});
