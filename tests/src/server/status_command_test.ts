import assert from "node:assert/strict";
import { createLogger } from "../../../src/log/mod.ts";
import { startHttpServer } from "../../../src/server/mod.ts";
import {
  defaultServerUrl,
  fetchStatus,
  formatStatusTable,
} from "../../../src/server/status_command.ts";
import { CliError } from "../../../src/errors.ts";
import { freePort } from "../../../src/supervisor/probe.ts";
import { runEdgellm } from "../../_util/cli.ts";
import { ManualSupervisor } from "./_util.ts";

async function withServer(
  fn: (url: string, home: string) => Promise<void>,
): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "edgellm-status-" });
  const supervisor = new ManualSupervisor();
  supervisor.add("chat", "tiny", new URL("http://127.0.0.1:9/"));
  supervisor.add("embed", "tiny");
  const server = await startHttpServer({
    supervisor,
    token: () => "s3cret",
    logger: createLogger({ write: () => {} }),
  }, { hostname: "127.0.0.1", port: 0 });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, home);
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("edgellm status prints the runtime matrix as a table", async () => {
  await withServer(async (url, home) => {
    const result = await runEdgellm(["status", "--url", url], {
      home,
      env: { EDGELLM_TOKEN: "s3cret" },
    });
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^RUNTIME\s+MODEL\s+STATE\s+PID\s+RESTARTS\s+UPTIME\s+DETAIL$/);
    assert.match(lines[1]!, /^chat\s+tiny\s+ready\s+-\s+0\/5\s+-\s+Ready$/);
    assert.match(lines[2]!, /^embed\s+tiny\s+stopped\s+/);
  });
});

Deno.test("edgellm status --json prints the rows", async () => {
  await withServer(async (url, home) => {
    const result = await runEdgellm(["status", "--url", url, "--json"], {
      home,
      env: { EDGELLM_TOKEN: "s3cret" },
    });
    assert.equal(result.code, 0, result.stderr);
    const rows = JSON.parse(result.stdout);
    assert.deepEqual(rows.map((r: { id: string; state: string }) => [r.id, r.state]), [
      ["chat", "ready"],
      ["embed", "stopped"],
    ]);
  });
});

Deno.test("edgellm status exits 1 when the server refuses the token", async () => {
  await withServer(async (url, home) => {
    const result = await runEdgellm(["status", "--url", url], { home });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /refused the token/);
  });
});

Deno.test("edgellm status exits 75 when nothing listens at the URL", async () => {
  const port = freePort();
  const home = await Deno.makeTempDir({ prefix: "edgellm-status-" });
  try {
    const result = await runEdgellm(["status", "--url", `http://127.0.0.1:${port}`], { home });
    assert.equal(result.code, 75);
    assert.match(result.stderr, /Cannot reach edgellm at "http:\/\/127\.0\.0\.1:\d+"/);
    const bad = await runEdgellm(["status", "--url", "ftp://x"], { home });
    assert.equal(bad.code, 2);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("defaultServerUrl() reaches a wildcard host on loopback", () => {
  assert.equal(defaultServerUrl({ host: "0.0.0.0", port: 8080 }), "http://127.0.0.1:8080");
  assert.equal(defaultServerUrl({ host: "::", port: 1 }), "http://[::1]:1");
  assert.equal(defaultServerUrl({ host: "::1", port: 1 }), "http://[::1]:1");
  assert.equal(defaultServerUrl({ host: "127.0.0.1", port: 80 }), "http://127.0.0.1:80");
});

Deno.test("formatStatusTable() formats uptimes and pids", () => {
  const row = {
    id: "a",
    model: "m",
    state: "ready",
    state_label: "Ready",
    pid: 42,
    restarts: { used: 1, budget: 5 },
    uptime_s: 3725,
  };
  assert.match(formatStatusTable([row]), /\na\s+m\s+ready\s+42\s+1\/5\s+1h02m\s+Ready\n$/);
  assert.match(formatStatusTable([{ ...row, uptime_s: 75 }]), /1m15s/);
});

Deno.test("fetchStatus() says the answer is not JSON when something else answers at the URL", async () => {
  const other = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("<html>hello</html>", { headers: { "content-type": "text/html" } }),
  );
  try {
    await assert.rejects(fetchStatus(`http://127.0.0.1:${other.addr.port}`), (error: unknown) => {
      assert.ok(error instanceof CliError);
      assert.equal(error.exitCode, 1);
      assert.match(error.message, /the answer is not JSON \(.+\); check that --url names/);
      return true;
    });
  } finally {
    await other.shutdown();
  }
});
