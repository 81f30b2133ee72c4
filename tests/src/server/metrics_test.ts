import assert from "node:assert/strict";
import { createLogger } from "../../../src/log/mod.ts";
import { startHttpServer } from "../../../src/server/mod.ts";
import { relabelMetrics } from "../../../src/server/relabel_metrics.ts";
import { startLlamaServer } from "../../_util/llama_server.ts";
import { ManualSupervisor, testConfig, tinyModel } from "./_util.ts";

/** Prometheus's own checker: exit 1 means the text does not parse, 3 only lint findings. */
async function promtool(text: string): Promise<{ code: number; findings: string[] }> {
  let child;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw new Error("promtool is missing: apt-get install prometheus", { cause: error });
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  const findings = new TextDecoder().decode(output.stderr).split("\n").filter((l) => l !== "");
  return { code: output.code, findings };
}

/** The value of the sample whose name and labels are exactly `series`. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  assert.ok(line, `no sample ${series}`);
  return Number(line.slice(series.length + 1));
}

Deno.test("relabelMetrics() prefixes names, adds the runtime label and writes each family once", () => {
  const text = "# HELP llamacpp:x Things.\n# TYPE llamacpp:x counter\nllamacpp:x 3\n" +
    '# TYPE llamacpp:h histogram\nllamacpp:h_bucket{le="1"} 2\nllamacpp:h_sum 1.5\nllamacpp:h_count 2\n';
  const merged = relabelMetrics([
    { runtime: "a", text },
    { runtime: 'b"c', text: "# TYPE llamacpp:x counter\nllamacpp:x 4\n" },
  ]);
  assert.equal(
    merged,
    "# HELP edgellm_llamacpp_x Things.\n# TYPE edgellm_llamacpp_x counter\n" +
      'edgellm_llamacpp_x{runtime="a"} 3\nedgellm_llamacpp_x{runtime="b\\"c"} 4\n' +
      "# TYPE edgellm_llamacpp_h histogram\n" +
      'edgellm_llamacpp_h_bucket{runtime="a",le="1"} 2\nedgellm_llamacpp_h_sum{runtime="a"} 1.5\n' +
      'edgellm_llamacpp_h_count{runtime="a"} 2\n',
  );
});

Deno.test("/metrics parses with promtool, and counters and histograms move as requests are made", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgellm-metrics-" });
  const model = await tinyModel(dir);
  await using llama = await startLlamaServer(model);
  const supervisor = new ManualSupervisor(testConfig(
    `[server]\nmetrics_public = true\n[models.tiny]\npath = "${model}"\n` +
      `[runtimes.chat]\nmodel = "tiny"\n[runtimes.spare]\nmodel = "tiny"\nauto_start = false\n`,
  ));
  supervisor.add("chat", "tiny", llama.url);
  supervisor.add("spare", "tiny");
  const server = await startHttpServer(
    { supervisor, token: () => "t", logger: createLogger({ write: () => {} }) },
    { hostname: "127.0.0.1", port: 0 },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const scrape = () => fetch(`${base}/metrics`).then((r) => r.text());
  function post(path: string, body: unknown) {
    return fetch(`${base}${path}`, {
      method: "POST",
      headers: { authorization: "Bearer t", "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  }
  try {
    const before = await scrape();
    const completions = 'edgellm_http_requests_total{route="/v1/completions",code="200"}';
    assert.ok(!before.includes(completions));

    assert.equal(
      (await (await post("/v1/completions", { model: "chat", prompt: "a", max_tokens: 5 })).json())
        .usage.completion_tokens,
      5,
    );
    const stream = await post("/v1/chat/completions", {
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 7,
      stream: true,
    });
    await stream.text();
    const unknown = await post("/v1/completions", { model: "nope", prompt: "a" });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    const notReady = await post("/v1/completions", { model: "spare", prompt: "a" });
    assert.equal(notReady.status, 503);
    await notReady.body?.cancel();

    const after = await scrape();
    const { code, findings } = await promtool(after);
    assert.notEqual(code, 1, `promtool could not parse /metrics:\n${findings.join("\n")}`);
    // Lint findings may only concern llama-server's own names (":" in them, counters not
    // ending in _total), which are re-exported as they are.
    assert.deepEqual(findings.filter((f) => !f.startsWith("edgellm_llamacpp_")), []);

    assert.equal(sample(after, completions), 1);
    assert.equal(
      sample(after, 'edgellm_http_requests_total{route="/v1/completions",code="404"}'),
      1,
    );
    assert.equal(
      sample(after, 'edgellm_http_request_duration_seconds_count{route="/v1/chat/completions"}'),
      1,
    );
    assert.equal(sample(after, 'edgellm_time_to_first_token_seconds_count{runtime="chat"}'), 1);
    assert.equal(sample(after, 'edgellm_tokens_generated_total{runtime="chat"}'), 12);
    assert.equal(
      sample(after, 'edgellm_requests_rejected_total{runtime="spare",reason="not_ready"}'),
      1,
    );
    assert.equal(sample(after, 'edgellm_runtime_state{runtime="chat",state="ready"}'), 1);
    assert.equal(sample(after, 'edgellm_runtime_state{runtime="spare",state="stopped"}'), 1);
    assert.equal(sample(after, 'edgellm_queue_depth{runtime="chat"}'), 0);
    assert.ok(sample(after, "edgellm_process_resident_memory_bytes") > 0);
    assert.ok(sample(after, 'edgellm_llamacpp_tokens_predicted_total{runtime="chat"}') >= 12);

    supervisor.setState("chat", "backoff");
    supervisor.countRestart("chat");
    supervisor.setState("chat", "starting");
    const restarted = await scrape();
    assert.equal(sample(restarted, 'edgellm_runtime_restarts_total{runtime="chat"}'), 1);
    assert.ok(!restarted.includes("edgellm_llamacpp_"), "no samples of a runtime that is down");
  } finally {
    await server.shutdown();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
