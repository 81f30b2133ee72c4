import assert from "node:assert/strict";
import { join } from "node:path";
import { type BootstrapOptions, type ModelSpec, runBootstrap } from "../../../bootstrap/mod.ts";
import { createLogger } from "../../../src/log/mod.ts";
import { createApp } from "../../../src/server/mod.ts";
import { bootstrapBytesReader } from "../../../src/server/bootstrap_bytes.ts";
import { bootstrapFixture, GGUF, REPO } from "../../_util/bootstrap_fixture.ts";
import { ManualSupervisor } from "./_util.ts";

const SPECS: ModelSpec[] = [{
  kind: "hub",
  id: "tiny",
  repo: REPO,
  revision: "main",
  include: [GGUF],
}];

const HUB = 'edgellm_bootstrap_bytes_total{source="hub"}';
const IMPORT = 'edgellm_bootstrap_bytes_total{source="import"}';

function quiet() {
  return createLogger({ format: "json", level: "error", write: () => {} });
}

function bootstrapOptions(home: string, endpoint: string): BootstrapOptions {
  return {
    home,
    hub: { endpoint },
    logger: quiet(),
    progress: { start() {}, advance() {}, finish() {} },
    retry: { maxAttempts: 1 },
  };
}

/** `serve`'s endpoint over `home`, as `/metrics` scrapes see it. */
function metricsOf(home: string, logger = quiet()) {
  const app = createApp({
    supervisor: new ManualSupervisor(),
    token: () => undefined,
    logger,
    home,
  });
  return async function scrape(): Promise<{ status: number; hub: number; import: number }> {
    const response = await app.request("/metrics");
    const text = await response.text();
    return { status: response.status, hub: sample(text, HUB), import: sample(text, IMPORT) };
  };
}

function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  assert.ok(line, `no sample ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

Deno.test("/metrics shows the bytes a separate bootstrap downloaded, unchanged by a no-op rerun", async () => {
  await using fx = await bootstrapFixture();
  const scrape = metricsOf(fx.home);
  assert.deepEqual(await scrape(), { status: 200, hub: 0, import: 0 }, "no state file yet");

  await runBootstrap(SPECS, bootstrapOptions(fx.home, fx.hub.url));
  assert.deepEqual(await scrape(), { status: 200, hub: fx.content.length, import: 0 });

  const again = await runBootstrap(SPECS, bootstrapOptions(fx.home, fx.hub.url));
  assert.equal(again.bytes_downloaded, 0);
  assert.deepEqual(await scrape(), { status: 200, hub: fx.content.length, import: 0 });
  // A fresh serve (another process) reads the same from the file.
  assert.deepEqual(await metricsOf(fx.home)(), { status: 200, hub: fx.content.length, import: 0 });
});

Deno.test("/metrics counts the bytes of a failed download and of a --clean rerun on top", async () => {
  await using fx = await bootstrapFixture();
  fx.hub.faults.cutAfterBytes = 100_000;
  await assert.rejects(runBootstrap(SPECS, bootstrapOptions(fx.home, fx.hub.url)));
  const scrape = metricsOf(fx.home);
  const partial = (await scrape()).hub;
  assert.ok(partial > 0 && partial <= 100_000, `${partial} bytes recorded at the checkpoint`);

  // --clean discards the partial and downloads the whole file again; the total keeps growing.
  await runBootstrap(SPECS, { ...bootstrapOptions(fx.home, fx.hub.url), clean: true });
  assert.deepEqual(await scrape(), { status: 200, hub: partial + fx.content.length, import: 0 });
});

Deno.test("/metrics counts bytes imported with --from apart from downloaded ones", async () => {
  await using fx = await bootstrapFixture();
  await runBootstrap(SPECS, bootstrapOptions(fx.home, fx.hub.url));
  const other = await Deno.makeTempDir({ prefix: "edgellm-import-" });
  try {
    const requests = fx.hub.counters.log.length;
    await runBootstrap(SPECS, {
      ...bootstrapOptions(other, fx.hub.url),
      from: join(fx.home, "hub"),
    });
    assert.equal(fx.hub.counters.log.length, requests, "no network");
    assert.deepEqual(await metricsOf(other)(), { status: 200, hub: 0, import: fx.content.length });
  } finally {
    await Deno.remove(other, { recursive: true });
  }
});

Deno.test("/metrics answers while bootstrap replaces the state file, and the count never goes down", async () => {
  await using fx = await bootstrapFixture({ size: 600_000 });
  fx.hub.faults.throttleBytesPerSec = 300_000; // ~2 s: a checkpoint every second
  const scrape = metricsOf(fx.home);
  let done = false;
  const run = runBootstrap(SPECS, bootstrapOptions(fx.home, fx.hub.url))
    .finally(() => done = true);
  const seen: number[] = [];
  while (!done) {
    const { status, hub } = await scrape();
    assert.equal(status, 200);
    seen.push(hub);
    await new Promise((resolve) => setTimeout(resolve, 5)); // sampling, not synchronisation
  }
  await run;
  seen.push((await scrape()).hub);
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), "never decreasing");
  assert.equal(seen.at(-1), fx.content.length);
  assert.ok(seen.some((bytes) => bytes > 0 && bytes < fx.content.length), "seen mid-download");
});

Deno.test("/metrics keeps the last totals when the state file is corrupt and warns once", async () => {
  await using fx = await bootstrapFixture();
  await runBootstrap(SPECS, bootstrapOptions(fx.home, fx.hub.url));
  const lines: string[] = [];
  const scrape = metricsOf(fx.home, createLogger({ format: "json", write: (l) => lines.push(l) }));
  const good = await scrape();
  const stateFile = join(fx.home, "state", "bootstrap.json");
  for (const text of ["{truncated", '{"version": 2, "totals": {"downloaded_bytes": -1}}']) {
    await Deno.writeTextFile(stateFile, text);
    assert.deepEqual(await scrape(), good);
  }
  await Deno.remove(stateFile);
  await Deno.mkdir(stateFile); // unreadable as a file
  assert.deepEqual(await scrape(), good);
  assert.equal(lines.filter((l) => JSON.parse(l).level === "warn").length, 1, lines.join("\n"));
});

Deno.test("bootstrapBytesReader adds a total that went back to 0 on top of what it counted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "bootstrap.json");
    const write = (downloaded: number, imported: number) =>
      Deno.writeTextFile(
        path,
        JSON.stringify({
          version: 2,
          totals: { downloaded_bytes: downloaded, imported_bytes: imported },
          downloads: {},
          listings: {},
        }),
      );
    const read = bootstrapBytesReader(path);
    await write(500, 7);
    assert.deepEqual(await read(), { downloaded_bytes: 500, imported_bytes: 7 });
    await Deno.remove(path); // the state folder was deleted
    assert.deepEqual(await read(), { downloaded_bytes: 500, imported_bytes: 7 });
    await write(20, 7);
    assert.deepEqual(await read(), { downloaded_bytes: 520, imported_bytes: 14 });
    // Concurrent scrapes share one read.
    const [a, b] = [read(), read()];
    assert.equal(a, b);
    assert.deepEqual(await a, { downloaded_bytes: 520, imported_bytes: 14 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
