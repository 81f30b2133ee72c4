import assert from "node:assert/strict";
import { LogRing } from "../../../src/supervisor/log_ring.ts";
import { RotatingLogFile } from "../../../src/supervisor/rotating_log_file.ts";
import type { LogLine } from "../../../src/supervisor/types.ts";

function line(n: number): LogLine {
  return { at: new Date(n).toISOString(), stream: "stderr", line: `line ${n}` };
}

Deno.test("LogRing keeps the last capacity lines", () => {
  const ring = new LogRing(3);
  for (let n = 1; n <= 10; n++) ring.push(line(n));
  assert.deepEqual(ring.tail().map((l) => l.line), ["line 8", "line 9", "line 10"]);
  assert.deepEqual(ring.tail(2).map((l) => l.line), ["line 9", "line 10"]);
  assert.deepEqual(ring.tail(0), []);
});

Deno.test("LogRing.follow delivers each new line as it is pushed, until aborted", async () => {
  const ring = new LogRing(10);
  ring.push(line(0)); // before the follow: not delivered
  const controller = new AbortController();
  const follower = ring.follow({ signal: controller.signal });
  const first = follower.next(); // waits: nothing new yet
  ring.push(line(1));
  assert.equal((await first).value?.line, "line 1");
  ring.push(line(2));
  ring.push(line(3));
  assert.equal((await follower.next()).value?.line, "line 2");
  assert.equal((await follower.next()).value?.line, "line 3");
  const pending = follower.next();
  controller.abort();
  assert.equal((await pending).done, true);
});

Deno.test("LogRing.close ends followers after the lines they have not read", async () => {
  const ring = new LogRing(10);
  const follower = ring.follow();
  ring.push(line(1));
  ring.close();
  const seen: string[] = [];
  for await (const l of follower) seen.push(l.line);
  assert.deepEqual(seen, ["line 1"]);
  assert.equal((await ring.follow().next()).done, true);
});

Deno.test("LogRing.follow drops the oldest lines for a follower that falls behind", async () => {
  const ring = new LogRing(100);
  const follower = ring.follow({ maxPending: 2 });
  for (let n = 1; n <= 5; n++) ring.push(line(n));
  ring.close();
  const seen: string[] = [];
  for await (const l of follower) seen.push(l.line);
  assert.deepEqual(seen, ["line 4", "line 5"]);
});

Deno.test("RotatingLogFile rotates at the size cap and keeps the configured number of files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rotating_log_test_" });
  try {
    const path = `${dir}/out.log`;
    const file = new RotatingLogFile(path, { maxBytes: 100, keep: 2 });
    for (let n = 0; n < 10; n++) file.write(`${String(n).repeat(39)}\n`); // 40 bytes each
    file.close();
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["out.log", "out.log.1", "out.log.2"]);
    for (const name of names) assert.ok(Deno.statSync(`${dir}/${name}`).size <= 100);
    assert.match(Deno.readTextFileSync(path), /^8+\n9+\n$/);
    assert.match(Deno.readTextFileSync(`${path}.1`), /^6+\n7+\n$/);
    assert.match(Deno.readTextFileSync(`${path}.2`), /^4+\n5+\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
