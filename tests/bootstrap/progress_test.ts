import assert from "node:assert/strict";
import { createProgress } from "../../bootstrap/progress.ts";
import { createLogger } from "../../src/log/mod.ts";

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => now += ms };
}

Deno.test("createProgress draws a bar with bytes, rate and ETA on a TTY", () => {
  const time = clock();
  const writes: string[] = [];
  const progress = createProgress({
    tty: true,
    logger: createLogger({ write: () => {} }),
    write: (text) => writes.push(text),
    now: time.now,
  });
  progress.start({ repo: "org/m", path: "m.gguf", size: 4 << 20, done: 0 });
  time.advance(1000);
  progress.advance(1 << 20);
  assert.match(
    writes.at(-1) ?? "",
    /m\.gguf \[#{6}-{18}\] {2}25% 1\.0 MiB\/4\.0 MiB 1\.0 MiB\/s ETA 3s/,
  );
  progress.finish(true);
  assert.ok(writes.at(-1)?.endsWith("\n"));
});

Deno.test("createProgress logs structured progress lines off a TTY", () => {
  const time = clock();
  const lines: Record<string, unknown>[] = [];
  const progress = createProgress({
    tty: false,
    logger: createLogger({ format: "json", write: (line) => lines.push(JSON.parse(line)) }),
    intervalMs: 5000,
    now: time.now,
  });
  progress.start({ repo: "org/m", path: "m.gguf", size: 1000, done: 100 });
  time.advance(1000);
  progress.advance(100); // too soon for a line
  time.advance(4000);
  progress.advance(100);
  progress.finish(true);
  assert.deepEqual(lines.map((l) => l.msg), [
    "download started",
    "download progress",
    "download finished",
  ]);
  assert.equal(lines[0]?.resume_from, 100);
  assert.equal(lines[1]?.bytes, 300);
  assert.equal(lines[1]?.rate_bps, 40);
  assert.equal(lines[1]?.eta_s, 18);
});
