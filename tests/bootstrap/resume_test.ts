import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bootstrapFixture,
  GGUF,
  readState,
  REPO,
  repoDir,
  sha256OfFile,
} from "../_util/bootstrap_fixture.ts";
import { runEdgellm, spawnEdgellm } from "../_util/cli.ts";
import { waitFor } from "../_util/wait_for.ts";

const ARGS = ["bootstrap", "--hf-repo", REPO, "--include", GGUF];
const SIZE = 600_000;
/** Slow enough that a kill lands mid-file and several 1 s checkpoints happen per run. */
const RATE = 120_000;

function rangeStart(range: string | null | undefined): number {
  return range ? Number(/^bytes=(\d+)-$/.exec(range)?.[1]) : 0;
}

Deno.test("bootstrap killed with SIGKILL at three points resumes and re-downloads only what was in flight", async () => {
  await using fx = await bootstrapFixture({ size: SIZE });
  fx.hub.faults.throttleBytesPerSec = RATE;
  const key = `models--org--tiny/blobs/${fx.sha256}`;
  const partialPath = join(repoDir(fx.home), "blobs", `${fx.sha256}.incomplete`);
  /** Where each run's CDN request started, and where its bytes ended. */
  let previous: { end: number; partial: number; checkpoint: number } | undefined;
  let wasted = 0;
  for (const quarter of [1, 2, 3]) {
    const before = fx.hub.counters.bodyBytes;
    const cdnBefore = fx.hub.counters.log.filter((r) => r.route === "cdn").length;
    const child = await spawnEdgellm(ARGS, { home: fx.home, env: fx.env });
    // Kill mid-transfer once a checkpoint has passed a quarter, half, three quarters.
    await waitFor(`a checkpoint past ${quarter}/4 of the file`, async () => {
      const done = (await readState(fx.home))?.downloads[key]?.bytes_done ?? 0;
      return done >= (quarter * SIZE) / 4;
    });
    child.kill("SIGKILL");
    const status = await child.output();
    assert.equal(status.signal, "SIGKILL");

    const cdn = fx.hub.counters.log.filter((r) => r.route === "cdn").slice(cdnBefore);
    assert.equal(cdn.length, 1);
    const start = rangeStart(cdn[0]?.range);
    if (previous) {
      // Resumed from the partial's size, which is at least the last checkpoint.
      assert.equal(start, previous.partial);
      assert.ok(start >= previous.checkpoint, `${start} >= checkpoint ${previous.checkpoint}`);
      // Re-downloaded: what the server sent beyond the partial, bounded by what was in flight
      // after the last checkpoint.
      const again = previous.end - start;
      assert.ok(again <= previous.end - previous.checkpoint, `${again} bytes again`);
      wasted += again;
    } else {
      assert.equal(start, 0);
    }
    const state = await readState(fx.home);
    previous = {
      end: start + (fx.hub.counters.bodyBytes - before),
      partial: (await Deno.stat(partialPath)).size,
      checkpoint: state?.downloads[key]?.bytes_done ?? 0,
    };
    assert.ok(previous.partial >= previous.checkpoint);
    assert.ok(previous.partial < SIZE, "killed mid-file");
  }

  fx.hub.faults.throttleBytesPerSec = 0;
  const before = fx.hub.counters.bodyBytes;
  const last = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(last.code, 0, last.stderr);
  const cdn = fx.hub.counters.log.filter((r) => r.route === "cdn").at(-1);
  assert.equal(rangeStart(cdn?.range), previous?.partial);
  assert.equal(fx.hub.counters.bodyBytes - before, SIZE - (previous?.partial ?? 0));
  wasted += (previous?.end ?? 0) - (previous?.partial ?? 0);
  assert.equal(fx.hub.counters.bodyBytes, SIZE + wasted);
  const final = join(repoDir(fx.home), "snapshots", fx.commit, GGUF);
  assert.equal(await sha256OfFile(final), fx.sha256);
  assert.deepEqual((await readState(fx.home))?.downloads, {});
});

Deno.test("bootstrap interrupted with SIGINT checkpoints, releases the lock and exits 130", async () => {
  await using fx = await bootstrapFixture({ size: SIZE });
  fx.hub.faults.throttleBytesPerSec = RATE;
  const key = `models--org--tiny/blobs/${fx.sha256}`;
  const child = await spawnEdgellm(ARGS, { home: fx.home, env: fx.env });
  await waitFor(
    "a checkpoint",
    async () => ((await readState(fx.home))?.downloads[key]?.bytes_done ?? 0) > 0,
  );
  child.kill("SIGINT");
  const output = await child.output();
  assert.equal(output.code, 130, new TextDecoder().decode(output.stderr));
  const partial = (await Deno.stat(join(repoDir(fx.home), "blobs", `${fx.sha256}.incomplete`)))
    .size;
  assert.equal((await readState(fx.home))?.downloads[key]?.bytes_done, partial);

  // The lock is free: the next run starts at once and resumes exactly there.
  fx.hub.faults.throttleBytesPerSec = 0;
  const next = await runEdgellm(ARGS, { home: fx.home, env: fx.env });
  assert.equal(next.code, 0, next.stderr);
  const cdn = fx.hub.counters.log.filter((r) => r.route === "cdn").at(-1);
  assert.equal(cdn?.range, `bytes=${partial}-`);
});
