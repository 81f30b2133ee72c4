import assert from "node:assert/strict";
import { ConfigError, loadConfig, parseConfig, resolveThreads } from "../../../src/config/mod.ts";
import { runEdgellm } from "../../_util/cli.ts";

const GOOD = `
[models.tiny]
path = "/opt/models/tiny.gguf"

[runtimes.chat]
model = "tiny"
threads = 2
`;

function issuesOf(text: string) {
  try {
    parseConfig(text, { env: {} });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.issues;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseConfig applies defaults when keys are omitted", () => {
  const config = parseConfig(GOOD, { env: {} });
  assert.equal(config.server.port, 8080);
  assert.equal(config.hub.endpoint, "https://huggingface.co");
  assert.equal(config.runtimes["chat"]?.restart.max_restarts, 5);
  assert.equal(config.runtimes["chat"]?.health.startup_timeout_s, 120);
  assert.equal(config.jobs.policy, "weighted-fair");
});

Deno.test("parseConfig names an unknown key and its line", () => {
  const issues = issuesOf(GOOD + "thread = 4\n");
  assert.deepEqual(issues, [{ key: "runtimes.chat.thread", message: "unknown key", line: 8 }]);
});

Deno.test("parseConfig names a key with a wrong type and its line", () => {
  const issues = issuesOf(`[server]\nport = "eighty"\n`);
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.key, "server.port");
  assert.equal(issues[0]?.line, 2);
});

Deno.test("parseConfig names a key inside an inline table", () => {
  const issues = issuesOf(GOOD + "restart = { max_restarts = -1 }\n");
  assert.equal(issues[0]?.key, "runtimes.chat.restart.max_restarts");
  assert.equal(issues[0]?.line, 8);
});

Deno.test("parseConfig reports a runtime naming a missing model", () => {
  const issues = issuesOf(GOOD.replace('model = "tiny"', 'model = "huge"'));
  assert.equal(issues[0]?.key, "runtimes.chat.model");
  assert.match(issues[0]?.message ?? "", /"huge".*not defined.*"tiny"/);
  assert.equal(issues[0]?.line, 6);
});

Deno.test("parseConfig reports the line of a TOML syntax error", () => {
  const issues = issuesOf("[server]\nport = = 1\n");
  assert.equal(issues[0]?.line, 2);
});

Deno.test("parseConfig lets HF_ENDPOINT and HF_HUB_OFFLINE override the hub", () => {
  const config = parseConfig("", {
    env: { HF_ENDPOINT: "http://127.0.0.1:9", HF_HUB_OFFLINE: "1" },
  });
  assert.equal(config.hub.endpoint, "http://127.0.0.1:9");
  assert.equal(config.hub.offline, true);
});

Deno.test("resolveThreads uses every CPU for auto and clamps a larger number with a warning", () => {
  const warnings: string[] = [];
  const logger = {
    debug() {},
    info() {},
    warn(message: string) {
      warnings.push(message);
    },
    error() {},
    child() {
      return logger;
    },
  };
  assert.equal(resolveThreads("auto", { cpuCount: 4 }), 4);
  assert.equal(resolveThreads(3, { cpuCount: 4, logger }), 3);
  assert.deepEqual(warnings, []);
  assert.equal(resolveThreads(16, { cpuCount: 4, logger, key: "runtimes.chat.threads" }), 4);
  assert.match(warnings[0] ?? "", /runtimes\.chat\.threads = 16 exceeds the CPU count/);
});

const BAD_CONFIGS: Record<string, [string, string]> = {
  "an unknown key": [GOOD + "thread = 4\n", '"runtimes.chat.thread" (line 8): unknown key'],
  "a wrong type": ['[server]\nport = "x"\n', '"server.port" (line 2)'],
  "a missing model": [GOOD.replace('model = "tiny"', 'model = "huge"'), '"runtimes.chat.model"'],
  "bad threads": [GOOD.replace("threads = 2", 'threads = "many"'), '"runtimes.chat.threads"'],
  "zero threads": [GOOD.replace("threads = 2", "threads = 0"), '"runtimes.chat.threads"'],
};

for (const [what, [text, expected]] of Object.entries(BAD_CONFIGS)) {
  Deno.test(`edgellm exits 2 naming the key when the config has ${what}`, async () => {
    const home = await Deno.makeTempDir();
    try {
      const config = `${home}/edgellm.toml`;
      await Deno.writeTextFile(config, text);
      const result = await runEdgellm(["version"], { home, config });
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.includes(expected), result.stderr);
      assert.equal(result.stdout, "");
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  });
}

Deno.test("parseConfig says what threads accepts when it is zero", () => {
  const issues = issuesOf(GOOD.replace("threads = 2", "threads = 0"));
  assert.deepEqual(issues, [{
    key: "runtimes.chat.threads",
    message: 'must be "auto" or a positive whole number',
    line: 7,
  }]);
});

Deno.test("ConfigError for a missing file does not ask to fix keys", async () => {
  const error = await loadConfig("/nonexistent/edgellm.toml").catch((e) => e);
  assert.ok(error instanceof ConfigError);
  assert.match(error.message, /file not found/);
  assert.doesNotMatch(error.message, /Fix the keys/);
});

Deno.test("edgellm reads a --config in the home or ./edgellm.toml and refuses one elsewhere, as a device does", async () => {
  const home = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  try {
    const text = GOOD.replace("threads = 2", 'threads = "many"');
    for (const dir of [home, elsewhere]) await Deno.writeTextFile(`${dir}/edgellm.toml`, text);
    // Readable: the file is reported on its merits.
    const inHome = await runEdgellm(["version"], { home, config: `${home}/edgellm.toml` });
    assert.equal(inHome.code, 2);
    assert.ok(inHome.stderr.includes('"runtimes.chat.threads"'), inHome.stderr);
    const local = await runEdgellm(["version"], { home, cwd: elsewhere });
    assert.equal(local.code, 2);
    assert.ok(local.stderr.includes('"runtimes.chat.threads"'), local.stderr);
    // Outside the granted folders it is never read, whichever way it is named.
    const refused =
      `Cannot read '${elsewhere}/edgellm.toml': this edgellm may only read under ${home}, `;
    for (
      const config of [
        `${elsewhere}/edgellm.toml`,
        "../" + elsewhere.split("/").pop() + "/edgellm.toml",
      ]
    ) {
      const result = await runEdgellm(["version"], { home, config });
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.startsWith(refused), result.stderr);
      assert.equal(result.stderr.split("\n").length, 2, "one line, no stack trace");
    }
    const fromEnv = await runEdgellm(["version"], {
      home,
      env: { EDGELLM_CONFIG: `${elsewhere}/edgellm.toml` },
    });
    assert.equal(fromEnv.code, 2);
    assert.ok(fromEnv.stderr.startsWith(refused), fromEnv.stderr);
  } finally {
    await Deno.remove(home, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});
