import assert from "node:assert/strict";
import { join } from "node:path";
import {
  emptyState,
  loadState,
  readStateTotals,
  saveState,
  STATE_VERSION,
} from "../../bootstrap/state_file.ts";
import { createLogger } from "../../src/log/mod.ts";

function recordingLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ format: "json", write: (line) => lines.push(line) }) };
}

Deno.test("loadState moves a corrupt state file aside with a warning and starts clean", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "bootstrap.json");
    for (
      const text of [
        "{not json",
        `{"version": 1, "downloads": 3, "listings": {}}`,
        `{"version": 99}`,
      ]
    ) {
      await Deno.writeTextFile(path, text);
      const { lines, logger } = recordingLogger();
      const state = await loadState(path, { logger });
      assert.deepEqual(state, emptyState());
      assert.equal(lines.length, 1);
      const warning = JSON.parse(lines[0] as string);
      assert.equal(warning.level, "warn");
      assert.equal(await Deno.readTextFile(warning.moved_to), text, "kept for inspection");
      await Deno.remove(warning.moved_to);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("saveState replaces the file atomically and loadState reads it back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "bootstrap.json");
    assert.deepEqual(await loadState(path), emptyState());
    const state = emptyState();
    state.downloads["models--o--n/blobs/" + "a".repeat(64)] = {
      repo: "o/n",
      commit: "c".repeat(40),
      path: "m.gguf",
      size: 10,
      sha256: "a".repeat(64),
      etag: "a".repeat(64),
      validator: '"x"',
      bytes_done: 4,
      updated_at: new Date(0).toISOString(),
    };
    await saveState(path, state);
    assert.deepEqual(await loadState(path), state);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name),
      ["bootstrap.json"],
      "no temp file left",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadState migrates a version 1 file, keeping its downloads, with totals from 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "bootstrap.json");
    const listing = { path: "m.gguf", size: 10, etag: "a".repeat(64), sha256: "a".repeat(64) };
    const v1 = { version: 1, downloads: {}, listings: { ["o/n@" + "c".repeat(40)]: [listing] } };
    await Deno.writeTextFile(path, JSON.stringify(v1));
    const { lines, logger } = recordingLogger();
    assert.deepEqual(await loadState(path, { logger }), {
      ...v1,
      version: STATE_VERSION,
      totals: { downloaded_bytes: 0, imported_bytes: 0 },
    });
    assert.deepEqual(lines, [], "not corrupt");
    assert.deepEqual(await readStateTotals(path), { downloaded_bytes: 0, imported_bytes: 0 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadState keeps the byte totals of a file it moves aside when they are readable", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "bootstrap.json");
    const totals = { downloaded_bytes: 1234, imported_bytes: 56 };
    // A newer edgellm's file: unknown version and fields, but the totals as this one knows them.
    await Deno.writeTextFile(path, JSON.stringify({ version: 3, totals, other: {} }));
    assert.deepEqual(await readStateTotals(path), totals);
    const { lines, logger } = recordingLogger();
    assert.deepEqual(await loadState(path, { logger }), emptyState(totals));
    const warning = JSON.parse(lines[0] as string);
    assert.equal(warning.kept_totals, true);
    await Deno.remove(warning.moved_to);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readStateTotals gives zeros for a missing file and throws for one without totals", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "bootstrap.json");
    assert.deepEqual(await readStateTotals(path), { downloaded_bytes: 0, imported_bytes: 0 });
    for (
      const text of ["{truncated", "null", `{"version": 2, "totals": {"downloaded_bytes": 1}}`]
    ) {
      await Deno.writeTextFile(path, text);
      await assert.rejects(readStateTotals(path), SyntaxError);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
