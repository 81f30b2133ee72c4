/**
 * The runtime state machine, driven by fake effects and a fake clock: every transition,
 * budget and timer is deterministic here. The same behaviour against real llama-server
 * processes is in `supervisor_test.ts`.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/mod.ts";
import {
  type ProbeKind,
  type ProbeResult,
  Runtime,
  type RuntimeEffects,
  type RuntimeSpec,
} from "../../../src/supervisor/runtime.ts";
import { RuntimeLog } from "../../../src/supervisor/runtime_log.ts";
import type { ExitStatus, SpawnedChild, SpawnRequest } from "../../../src/supervisor/spawner.ts";
import type { RuntimeEvent, RuntimeState } from "../../../src/supervisor/types.ts";
import { FakeClock } from "../../_util/fake_clock.ts";

class FakeChild implements SpawnedChild {
  readonly pid: number;
  readonly pdeathsig = false;
  readonly status: Promise<ExitStatus>;
  readonly signals: Deno.Signal[] = [];
  /** Whether SIGTERM ends it (a hung process ignores it). */
  diesOnTerm = true;
  exit!: (status: ExitStatus) => void;

  constructor(pid: number) {
    this.pid = pid;
    this.status = new Promise((resolve) => this.exit = resolve);
  }

  kill(signal: Deno.Signal): void {
    this.signals.push(signal);
    if (signal === "SIGKILL" || (signal === "SIGTERM" && this.diesOnTerm)) {
      this.exit({ code: null, signal });
    }
  }
}

interface Harness {
  readonly runtime: Runtime;
  readonly clock: FakeClock;
  readonly children: FakeChild[];
  readonly requests: SpawnRequest[];
  readonly events: RuntimeEvent[];
  /** What probes answer; change it to drive health. */
  probe: (kind: ProbeKind) => ProbeResult;
  /** When set, the next spawns fail with it. */
  spawnError: Error | undefined;
  /** When set, spawns wait for it. */
  spawnGate: Promise<void> | undefined;
  readonly states: () => RuntimeState[];
  close(): Promise<void>;
}

const OK: ProbeResult = { ok: true, reason: "" };

const RESTART = "max_restarts = 2, window_s = 60, backoff_initial_ms = 100, backoff_max_ms = 1000";
const HEALTH =
  "interval_ms = 1000, timeout_ms = 500, failures_before_restart = 3, startup_timeout_s = 10";

/** A runtime with fake effects; `restart`/`health` are TOML inline-table bodies. */
async function harness(
  options: { restart?: string; health?: string } = {},
): Promise<Harness> {
  const config = parseConfig(
    `
[models.m]
path = "/models/m.gguf"
[runtimes.r]
model = "m"
restart = { ${options.restart ?? RESTART} }
health = { ${options.health ?? HEALTH} }
`,
    { env: {} },
  );
  const r = config.runtimes["r"]!;
  const dir = await Deno.makeTempDir({ prefix: "runtime_test_" });
  const spec: RuntimeSpec = {
    id: "r",
    model: "m",
    command: "/bundle/loader",
    args: ["--model", "/models/m.gguf"],
    cwd: dir,
    env: {},
    autoStart: true,
    restart: r.restart,
    health: r.health,
    stopGraceMs: 5000,
  };
  const clock = new FakeClock();
  const log = new RuntimeLog(`${dir}/output.log`);
  const h: Harness = {
    clock,
    children: [],
    requests: [],
    events: [],
    probe: () => OK,
    spawnError: undefined,
    spawnGate: undefined,
    states: () => h.events.map((e) => e.to),
    runtime: undefined as unknown as Runtime,
    async close() {
      await h.runtime.stop();
      log.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
  const effects: RuntimeEffects = {
    async spawn(request) {
      h.requests.push(request);
      if (h.spawnGate !== undefined) await h.spawnGate;
      if (h.spawnError !== undefined) throw h.spawnError;
      const child = new FakeChild(1000 + h.children.length);
      h.children.push(child);
      return child;
    },
    freePort: () => Promise.resolve(40000 + h.requests.length),
    probe: (_port, kind) => Promise.resolve(h.probe(kind)),
    clock,
    random: () => 0,
  };
  (h as { runtime: Runtime }).runtime = new Runtime(spec, {
    effects,
    log,
    onEvent: (event) => h.events.push(event),
  });
  return h;
}

Deno.test("Runtime becomes ready once /health answers, with one event per state change", async () => {
  const h = await harness();
  try {
    h.probe = () => ({ ok: false, reason: "HTTP 503" }); // loading the model
    await h.runtime.start();
    await h.clock.tick(500);
    assert.equal(h.runtime.state, "starting");
    h.probe = () => OK;
    await h.clock.tick(100);
    assert.equal(h.runtime.state, "ready");
    assert.deepEqual(h.states(), ["starting", "ready"]);
    assert.deepEqual(h.requests[0]!.args.slice(-4), ["--host", "127.0.0.1", "--port", "40000"]);
    assert.equal(h.runtime.upstream()?.href, "http://127.0.0.1:40000/");
    const snapshot = h.runtime.snapshot();
    assert.equal(snapshot.pid, 1000);
    assert.equal(snapshot.severity_label, "ok");
  } finally {
    await h.close();
  }
});

Deno.test("Runtime fails after exactly max_restarts crashes within the window, naming the cause", async () => {
  const h = await harness();
  try {
    await h.runtime.start();
    for (let crash = 1; crash <= 3; crash++) {
      await h.clock.tick(100);
      assert.equal(h.runtime.state, "ready", `spawn ${crash}`);
      h.requests.at(-1)!.onOutput!("stderr", new Date().toISOString(), [
        "error: out of memory",
        "",
      ]);
      h.children.at(-1)!.exit({ code: 139, signal: null });
      await h.clock.tick(0);
      if (crash < 3) {
        assert.equal(h.runtime.state, "backoff");
        // random() = 0: no jitter, so the delay doubles exactly.
        await h.clock.tick(100 * 2 ** (crash - 1));
        assert.equal(h.runtime.state, "starting");
      }
    }
    assert.equal(h.runtime.state, "failed");
    assert.equal(h.children.length, 3); // the first spawn and max_restarts = 2 restarts
    const snapshot = h.runtime.snapshot();
    assert.equal(snapshot.state_label, "Failed – crashed 3 times in 60 s (exit 139)");
    assert.match(snapshot.reason, /crashed \(exit 139\); last stderr: error: out of memory/);
    assert.deepEqual(snapshot.restarts, { used: 2, budget: 2, window_s: 60, total: 2 });
    assert.equal(snapshot.severity_label, "critical");
    await h.clock.tick(3_600_000);
    assert.equal(h.children.length, 3, "no spawn after failed");
  } finally {
    await h.close();
  }
});

Deno.test("Runtime's restart budget refills once crashes fall out of the window", async () => {
  const h = await harness();
  try {
    await h.runtime.start();
    for (let crash = 1; crash <= 5; crash++) {
      await h.clock.tick(100);
      assert.equal(h.runtime.state, "ready");
      h.children.at(-1)!.exit({ code: 1, signal: null });
      await h.clock.tick(61_000);
    }
    assert.equal(h.runtime.state, "ready");
    assert.equal(h.runtime.snapshot().restarts.total, 5);
  } finally {
    await h.close();
  }
});

Deno.test("Runtime goes degraded on a failing probe, recovers, and restarts after failures_before_restart", async () => {
  const h = await harness();
  try {
    await h.runtime.start();
    await h.clock.tick(100);
    h.probe = () => ({ ok: false, reason: "no answer within 500 ms" });
    await h.clock.tick(1000);
    assert.equal(h.runtime.state, "degraded");
    assert.match(h.runtime.snapshot().reason, /\/health failed 1 of 3 times: no answer/);
    h.probe = () => OK;
    await h.clock.tick(1000);
    assert.equal(h.runtime.state, "ready");

    h.probe = () => ({ ok: false, reason: "no answer within 500 ms" });
    await h.clock.tick(2000);
    assert.equal(h.runtime.state, "degraded");
    assert.deepEqual(h.children[0]!.signals, []);
    await h.clock.tick(1000);
    // The third failure in a row: a hung server is killed outright, then restarted.
    assert.deepEqual(h.children[0]!.signals, ["SIGKILL"]);
    assert.equal(h.runtime.state, "backoff");
    h.probe = () => OK;
    await h.clock.tick(200);
    assert.equal(h.runtime.state, "ready");
    assert.equal(h.children.length, 2);
    assert.deepEqual(h.states(), [
      "starting",
      "ready",
      "degraded",
      "ready",
      "degraded",
      "backoff",
      "starting",
      "ready",
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("Runtime counts deep-check failures even while /health passes", async () => {
  const h = await harness({
    health: "interval_ms = 1000, failures_before_restart = 2, deep_interval_ms = 5000",
  });
  try {
    await h.runtime.start();
    await h.clock.tick(100);
    h.probe = (kind) => kind === "deep" ? { ok: false, reason: "HTTP 500" } : OK;
    await h.clock.tick(5000);
    assert.equal(h.runtime.state, "degraded");
    assert.match(h.runtime.snapshot().reason, /one-token completion failed 1 of 2 times: HTTP 500/);
    await h.clock.tick(5000);
    assert.deepEqual(h.children[0]!.signals, ["SIGKILL"]);
  } finally {
    await h.close();
  }
});

Deno.test("Runtime kills a server that is not ready within startup_timeout_s", async () => {
  const h = await harness();
  try {
    h.probe = () => ({ ok: false, reason: "HTTP 503" });
    await h.runtime.start();
    await h.clock.tick(9_900);
    assert.equal(h.runtime.state, "starting");
    await h.clock.tick(100);
    assert.deepEqual(h.children[0]!.signals, ["SIGKILL"]);
    assert.equal(h.runtime.state, "backoff");
    assert.equal(h.runtime.snapshot().reason, "not ready within 10 s");
  } finally {
    await h.close();
  }
});

Deno.test("Runtime.stop sends SIGTERM, then SIGKILL after the grace", async () => {
  const h = await harness();
  try {
    await h.runtime.start();
    await h.clock.tick(100);
    h.children[0]!.diesOnTerm = false;
    const stopped = h.runtime.stop();
    await h.clock.tick(4_999);
    assert.equal(h.runtime.state, "stopping");
    assert.deepEqual(h.children[0]!.signals, ["SIGTERM"]);
    await h.clock.tick(1);
    await stopped;
    assert.deepEqual(h.children[0]!.signals, ["SIGTERM", "SIGKILL"]);
    assert.equal(h.runtime.state, "stopped");
    assert.equal(h.clock.pending, 0, "no timer left behind");
  } finally {
    await h.close();
  }
});

Deno.test("Runtime.stop while the spawn is in flight stops the child as soon as it exists", async () => {
  const h = await harness();
  try {
    let open!: () => void;
    h.spawnGate = new Promise((resolve) => open = resolve);
    await h.runtime.start();
    await h.clock.tick(0);
    const stopped = h.runtime.stop();
    assert.equal(h.runtime.state, "stopping");
    open();
    await stopped;
    assert.deepEqual(h.children[0]!.signals, ["SIGTERM"]);
    assert.equal(h.runtime.state, "stopped");
  } finally {
    await h.close();
  }
});

Deno.test("Runtime.stop in backoff cancels the restart; a manual start from failed resets the budget", async () => {
  const h = await harness({ restart: "max_restarts = 0" });
  try {
    await h.runtime.start();
    await h.clock.tick(100);
    h.children[0]!.exit({ code: 2, signal: null });
    await h.clock.tick(0);
    assert.equal(h.runtime.state, "failed");
    await h.runtime.start();
    await h.clock.tick(100);
    assert.equal(h.runtime.state, "ready");
    assert.equal(h.children.length, 2);
  } finally {
    await h.close();
  }
  const b = await harness();
  try {
    await b.runtime.start();
    await b.clock.tick(100);
    b.children[0]!.exit({ code: 1, signal: null });
    await b.clock.tick(0);
    assert.equal(b.runtime.state, "backoff");
    await b.runtime.stop();
    assert.equal(b.runtime.state, "stopped");
    await b.clock.tick(60_000);
    assert.equal(b.children.length, 1, "the cancelled restart never spawns");
  } finally {
    await b.close();
  }
});

Deno.test("Runtime fails at once, without retrying, when the spawn is refused", async () => {
  const h = await harness();
  try {
    h.spawnError = new Error('Cannot spawn "/bin/sh": Requires run access to "/bin/sh"');
    await h.runtime.start();
    await h.clock.tick(10_000);
    assert.equal(h.runtime.state, "failed");
    assert.equal(h.requests.length, 1);
    assert.match(h.runtime.snapshot().state_label, /^Failed – Cannot spawn "\/bin\/sh"/);
  } finally {
    await h.close();
  }
});

Deno.test("Runtime names a spawner failure as the reason instead of a crash with no exit (review finding 5)", async () => {
  const h = await harness();
  try {
    await h.runtime.start();
    await h.clock.tick(100);
    assert.equal(h.runtime.state, "ready");
    const failure = "the spawner worker failed: boom; its process group was killed";
    h.children[0]!.exit({ code: null, signal: "SIGKILL", spawnerFailure: failure });
    await h.clock.tick(0);
    assert.equal(h.runtime.state, "backoff");
    assert.equal(h.runtime.snapshot().reason, failure);
    await h.clock.tick(100);
    assert.equal(h.children.length, 2, "restarted once the old child was killed");
  } finally {
    await h.close();
  }
});
