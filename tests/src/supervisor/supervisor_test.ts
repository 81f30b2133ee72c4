/**
 * The supervisor against real processes: llama-server from the checkout's bundle on a
 * generated tiny model, and small shell scripts for crash patterns. Every test proves at the
 * end that no process naming its temporary folder is left (`withTestHome`).
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../../src/config/mod.ts";
import { createSupervisor, RuntimeNotFoundError } from "../../../src/supervisor/mod.ts";
import { probeLlamaServer } from "../../../src/supervisor/probe.ts";
import type { LogLine } from "../../../src/supervisor/types.ts";
import { processesMatching } from "../../_util/processes.ts";
import { waitFor } from "../../_util/wait_for.ts";
import {
  configText,
  EventRecorder,
  fakeEngine,
  FAST_RUNTIME,
  testConfig,
  testOptions,
  withSupervisor,
  withTestHome,
} from "../../_util/supervisor.ts";
import { writeTinyModel } from "../../_util/tiny_model.ts";
import { parseConfig } from "../../../src/config/mod.ts";

Deno.test("Supervisor brings a llama-server to ready and restarts it after SIGKILL", async () => {
  await withTestHome(async ({ home, model }) => {
    const config = testConfig(model, `[runtimes.chat]\nmodel = "tiny"\n${FAST_RUNTIME}`);
    await withSupervisor(config, testOptions(home), async (supervisor, events) => {
      await events.next("chat", "ready");
      const first = supervisor.get("chat")!;
      assert.equal(first.state_label, "Ready");
      const upstream = supervisor.upstream("chat")!;
      const answer = await fetch(new URL("/completion", upstream), {
        method: "POST",
        body: JSON.stringify({ prompt: "Hello", n_predict: 3 }),
      });
      assert.equal(answer.status, 200);
      assert.equal(typeof (await answer.json()).content, "string");
      assert.ok(supervisor.logs("chat", { tail: 5 }).length > 0);

      // Resolves with the new server's "listening on" line, which only a restart can print.
      const controller = new AbortController();
      const followed: LogLine[] = [];
      const listening = (async () => {
        for await (const line of supervisor.follow("chat", { signal: controller.signal })) {
          followed.push(line);
          if (line.line.includes("listening on")) return line;
        }
      })();

      const from = events.events.length;
      Deno.kill(first.pid!, "SIGKILL");
      await events.next("chat", "backoff", { from });
      assert.equal(supervisor.upstream("chat"), undefined);
      await events.next("chat", "ready", { from });
      const second = supervisor.get("chat")!;
      assert.deepEqual(events.states("chat").slice(-3), ["backoff", "starting", "ready"]);
      assert.notEqual(second.pid, first.pid);
      assert.equal(second.last_exit?.signal, "SIGKILL");
      assert.equal(second.restarts.used, 1);
      assert.equal(second.restarts.total, 1);
      // The new server's start-up lines reach the follower as they come (the line may trail
      // the first /health answer by a moment: it goes through the spawner's Worker).
      const timer = setTimeout(() => controller.abort(), 10_000);
      const line = await listening;
      clearTimeout(timer);
      controller.abort();
      assert.ok(line, `no "listening on" among ${followed.length} followed lines`);
      assert.equal(line.stream, "stderr");
    });
  });
});

Deno.test("Supervisor fails a runtime after exactly max_restarts crashes, naming the cause", async () => {
  await withTestHome(async ({ dir, home, model }) => {
    const engine = await fakeEngine(
      dir,
      "crash",
      `echo spawn >> "$HERE/spawns"\necho "fatal: cannot open the device" >&2\nexit 7`,
    );
    const config = testConfig(
      model,
      `[runtimes.crash]\nmodel = "tiny"\nengine_path = "${engine}"\n${FAST_RUNTIME}`,
    );
    await withSupervisor(config, testOptions(home), async (supervisor, events) => {
      await events.next("crash", "failed");
      const spawns = () => Deno.readTextFileSync(`${dir}/crash/spawns`).trim().split("\n").length;
      assert.equal(spawns(), 4); // the first spawn and max_restarts = 3 restarts
      const snapshot = supervisor.get("crash")!;
      assert.equal(snapshot.state_label, "Failed – crashed 4 times in 60 s (exit 7)");
      assert.match(snapshot.reason, /last stderr: fatal: cannot open the device/);
      assert.deepEqual(snapshot.last_exit && { ...snapshot.last_exit, at: "" }, {
        code: 7,
        signal: null,
        at: "",
        last_stderr: "fatal: cannot open the device",
      });
      assert.deepEqual(events.states("crash"), [
        ...["backoff", "starting", "backoff", "starting", "backoff", "starting"],
        "failed",
      ]);
      // That nothing is spawned after `failed` is shown with a fake clock (runtime_test.ts).
      // A manual start is the way out, with a fresh budget.
      const from = events.events.length;
      await supervisor.start("crash");
      await events.next("crash", "failed", { from });
      assert.equal(spawns(), 8);
    });
  });
});

Deno.test("Supervisor fails a runtime whose model is corrupt, with llama-server's last words", async () => {
  await withTestHome(async ({ dir, home }) => {
    const broken = `${dir}/broken.gguf`;
    await writeTinyModel(broken, { defect: "truncated" });
    const config = testConfig(
      broken,
      `[runtimes.chat]\nmodel = "tiny"\n${FAST_RUNTIME}\n`.replace(
        "max_restarts = 3",
        "max_restarts = 1",
      ),
    );
    await withSupervisor(config, testOptions(home), async (supervisor, events) => {
      await events.next("chat", "failed");
      const snapshot = supervisor.get("chat")!;
      assert.match(snapshot.state_label, /^Failed – crashed 2 times in 60 s \(exit 1\)$/);
      assert.ok(snapshot.last_exit?.last_stderr, "llama-server said why");
      assert.match(snapshot.reason, /last stderr: /);
    });
  });
});

Deno.test("Supervisor restarts a hung llama-server after failures_before_restart probes", async () => {
  await withTestHome(async ({ home, model }) => {
    const config = testConfig(model, `[runtimes.chat]\nmodel = "tiny"\n${FAST_RUNTIME}`);
    await withSupervisor(config, testOptions(home), async (supervisor, events) => {
      await events.next("chat", "ready");
      const hung = supervisor.get("chat")!.pid!;
      const from = events.events.length;
      Deno.kill(hung, "SIGSTOP"); // alive, port open, never answers
      const degraded = await events.next("chat", "degraded", { from });
      assert.match(degraded.reason, /\/health failed 1 of 2 times: no answer within 500 ms/);
      await events.next("chat", "ready", { from });
      assert.deepEqual(events.states("chat").slice(-4), [
        "degraded",
        "backoff",
        "starting",
        "ready",
      ]);
      assert.equal(supervisor.get("chat")!.last_exit?.signal, "SIGKILL");
      assert.notEqual(supervisor.get("chat")!.pid, hung);
    });
  });
});

Deno.test("Supervisor refuses an engine_path that is not a llama-server, with a clear error", async () => {
  await withTestHome(async ({ home, model }) => {
    const config = testConfig(model, `[runtimes.x]\nmodel = "tiny"\nengine_path = "/bin/sh"\n`);
    await assert.rejects(createSupervisor(config, testOptions(home)), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.issues[0]?.key, "runtimes.x.engine_path");
      assert.match(error.message, /"\/bin\/sh" is not a llama-server build/);
      return true;
    });
    // The lock was released: a good configuration starts in the same home.
    const good = testConfig(model, "");
    await withSupervisor(good, testOptions(home), () => Promise.resolve());
  });
});

Deno.test("Supervisor refuses a second instance on the same home", async () => {
  await withTestHome(async ({ home, model }) => {
    await withSupervisor(testConfig(model, ""), testOptions(home), async () => {
      await assert.rejects(
        createSupervisor(testConfig(model, ""), testOptions(home)),
        /holds ".*\/state\/serve\.lock" \(one edgellm serve per home\)/,
      );
      // PRODUCT.md "Store": the supervisor's bookkeeping sits in state/ (review finding 7).
      assert.ok(Deno.statSync(`${home}/state/serve.lock`).isFile);
      assert.ok(Deno.statSync(`${home}/state/children`).isDirectory);
      assert.ok(Deno.statSync(`${home}/state/jobs`).isDirectory);
      assert.deepEqual([...Deno.readDirSync(home)].map((e) => e.name).sort(), ["state"]);
    });
  });
});

Deno.test("Supervisor.reload starts new, restarts changed, stops removed and keeps unchanged runtimes", async () => {
  await withTestHome(async ({ home, model }) => {
    const runtime = (id: string, extra = "") =>
      `[runtimes.${id}]\nmodel = "tiny"\n${FAST_RUNTIME}${extra}\n`;
    const before = testConfig(model, runtime("same") + runtime("changed") + runtime("removed"));
    await withSupervisor(before, testOptions(home), async (supervisor, events) => {
      for (const id of ["same", "changed", "removed"]) await events.next(id, "ready");
      const pids = Object.fromEntries(supervisor.list().map((r) => [r.id, r.pid]));
      const removedPort = supervisor.get("removed")!.port;
      const from = events.events.length;

      // A bad configuration is refused as a whole and nothing moves.
      const bad = testConfig(
        model,
        runtime("same") + runtime("changed", 'args = ["--lora", "/x"]'),
      );
      await assert.rejects(supervisor.reload(bad), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.issues[0]?.key, "runtimes.changed.args");
        return true;
      });
      assert.equal(events.events.length, from);

      const after = testConfig(
        model,
        runtime("same") + runtime("changed", `args = ["--no-warmup"]`) + runtime("added") +
          runtime("off", "auto_start = false"),
      );
      const plan = await supervisor.reload(after);
      assert.deepEqual(plan, {
        added: ["added", "off"],
        removed: ["removed"],
        changed: ["changed"],
        unchanged: ["same"],
      });
      await events.next("changed", "ready", { from });
      await events.next("added", "ready", { from });
      assert.equal(supervisor.get("same")!.pid, pids["same"], "unchanged: not touched");
      assert.deepEqual(events.states("same").length, 1);
      assert.notEqual(supervisor.get("changed")!.pid, pids["changed"]);
      assert.equal(supervisor.get("removed"), undefined);
      assert.equal(supervisor.get("off")!.state, "stopped");
      assert.throws(() => supervisor.logs("removed"), RuntimeNotFoundError);
      assert.deepEqual(processesMatching(`--port ${removedPort}`), [], "removed: stopped");
    });
  });
});

Deno.test("Supervisor stops, after a SIGKILL of its predecessor without setpriv, the leftover llama-server", async () => {
  await withTestHome(async ({ dir, home, model }) => {
    const config = configText(model, `[runtimes.chat]\nmodel = "tiny"\n${FAST_RUNTIME}`);
    await Deno.writeTextFile(`${dir}/edgellm.toml`, config);
    // A first supervisor in its own process, without setpriv, so its child outlives it.
    const program = `
      import { loadConfig } from ${
      JSON.stringify(new URL("../../../src/config/mod.ts", import.meta.url).href)
    };
      import { createSupervisor } from ${
      JSON.stringify(new URL("../../../src/supervisor/mod.ts", import.meta.url).href)
    };
      import { testOptions } from ${
      JSON.stringify(new URL("../../_util/supervisor.ts", import.meta.url).href)
    };
      const supervisor = await createSupervisor(await loadConfig("${dir}/edgellm.toml"), testOptions("${home}", { setpriv: null }));
      supervisor.subscribe((e) => { if (e.to === "ready") console.log(supervisor.get("chat").pid); });
    `;
    const first = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-worker-options",
        "--config",
        new URL("../../../deno.json", import.meta.url).pathname,
        "-",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const writer = first.stdin.getWriter();
    await writer.write(new TextEncoder().encode(program));
    await writer.close();
    const reader = first.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const leftover = Number((await reader.read()).value);
    first.kill("SIGKILL");
    await first.status;
    await reader.cancel();
    assert.deepEqual(
      processesMatching(model).map((p) => p.pid),
      [leftover],
      "it outlived its parent",
    );

    await withSupervisor(
      parseConfig(config, { env: {} }),
      testOptions(home),
      async (_supervisor, events) => {
        // The leftover was stopped before the new server was started.
        assert.deepEqual(processesMatching(model).filter((p) => p.pid === leftover), []);
        await events.next("chat", "ready");
        assert.equal(processesMatching(model).length, 1);
      },
    );
  });
});

Deno.test("Supervisor keeps a runtime serving when its log file cannot be written (review finding 1)", async () => {
  await withTestHome(async ({ home, model }) => {
    // Deterministic: with maxBytes = 1 every write rotates, and a directory where the rotated
    // file must go makes each rotation fail, as a full disk would. Before the fix the error
    // escaped the spawner Worker's onmessage and ended the process.
    await Deno.mkdir(`${home}/runtimes/chat/output.log.1`, { recursive: true });
    const config = testConfig(model, `[runtimes.chat]\nmodel = "tiny"\n${FAST_RUNTIME}`);
    const options = testOptions(home, { log: { maxBytes: 1 } });
    await withSupervisor(config, options, async (supervisor, events) => {
      await events.next("chat", "ready");
      const answer = await fetch(new URL("/completion", supervisor.upstream("chat")!), {
        method: "POST",
        body: JSON.stringify({ prompt: "Hello", n_predict: 3 }),
      });
      assert.equal(answer.status, 200);
      assert.equal(typeof (await answer.json()).content, "string");
      // Every line is still in memory (the line may trail /health through the Worker).
      await waitFor(
        'the "listening" line in memory',
        () => supervisor.logs("chat", { tail: 1000 }).some((l) => l.line.includes("listening")),
      );
    });
  });
});

/**
 * A stand-in engine that never becomes ready and, on SIGTERM, exits only once the file
 * `release` appears beside it: a stop that a test holds open at a known point.
 */
const SLOW_STOP = `trap 'while [ ! -e "$HERE/release" ]; do sleep 0.02; done; exit 0' TERM
echo spawned >> "$HERE/spawns"
while :; do sleep 0.05; done`;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("Supervisor.start during a reload waits for it, so the changed runtime runs the new spec (review finding 3)", async () => {
  await withTestHome(async ({ dir, home, model }) => {
    const a = await fakeEngine(dir, "a", SLOW_STOP);
    const b = await fakeEngine(dir, "b", SLOW_STOP);
    const runtime = (engine: string) =>
      `[runtimes.slow]\nmodel = "tiny"\nengine_path = "${engine}"\n${FAST_RUNTIME}`;
    const options = testOptions(home, { stopGraceMs: 60_000 });
    await withSupervisor(testConfig(model, runtime(a)), options, async (supervisor, events) => {
      await waitFor("engine a to run", () => exists(`${dir}/a/spawns`));
      // Deterministic: the reload is held in its stop of "slow" (engine a waits for
      // `release`) while the start comes in. Before the fix the start relaunched engine a
      // as soon as it exited, and the reload's configure() then threw.
      const from = events.events.length;
      const reloading = supervisor.reload(testConfig(model, runtime(b)));
      await events.next("slow", "stopping", { from });
      const starting = supervisor.start("slow");
      await Deno.writeTextFile(`${dir}/a/release`, "");
      assert.deepEqual((await reloading).changed, ["slow"]);
      assert.equal((await starting).state, "starting");
      await waitFor("engine b to run", () => exists(`${dir}/b/spawns`));
      assert.equal(
        exists(`${dir}/a/spawns`) && Deno.readTextFileSync(`${dir}/a/spawns`),
        "spawned\n",
      );
      assert.equal(processesMatching(a).length, 0);
      assert.equal(processesMatching(b).length, 1);
      await Deno.writeTextFile(`${dir}/b/release`, "");
    });
  });
});

Deno.test("Supervisor.restart racing a shutdown starts nothing after it (review finding 3)", async () => {
  await withTestHome(async ({ dir, home, model }) => {
    const engine = await fakeEngine(dir, "a", SLOW_STOP);
    const config = testConfig(
      model,
      `[runtimes.slow]\nmodel = "tiny"\nengine_path = "${engine}"\n${FAST_RUNTIME}`,
    );
    const supervisor = await createSupervisor(config, testOptions(home, { stopGraceMs: 60_000 }));
    const events = new EventRecorder(supervisor);
    try {
      await waitFor("the engine to run", () => exists(`${dir}/a/spawns`));
      // Deterministic: the restart is held in its stop (the engine waits for `release`) while
      // the shutdown comes in. Before the fix the restart went on to spawn after the shutdown.
      const restarting = supervisor.restart("slow");
      await events.next("slow", "stopping");
      const shutdown = supervisor.shutdown();
      await Deno.writeTextFile(`${dir}/a/release`, "");
      const [snapshot] = await Promise.all([restarting, shutdown]);
      assert.equal(snapshot.state, "stopped");
      assert.deepEqual(events.states("slow"), ["stopping", "stopped"]);
      assert.equal(Deno.readTextFileSync(`${dir}/a/spawns`), "spawned\n");
      assert.deepEqual(processesMatching(engine), []);
    } finally {
      await supervisor.shutdown();
      events.close();
    }
  });
});

Deno.test("Supervisor's deep probe is answered while every parallel slot is busy (review finding 4)", async () => {
  await withTestHome(async ({ home, model }) => {
    // parallel = 1 and one endless streaming completion hold the only request slot. Before
    // the fix the one-token probe queued behind it until its timeout and the healthy server
    // was restarted; now llama-server has a spare slot that only probes use. Deterministic:
    // the probe is sent while the stream is known to be generating, and it still generates
    // after the probe's answer.
    const health = "health = { interval_ms = 200, timeout_ms = 500, failures_before_restart = 2, " +
      "startup_timeout_s = 30, deep_interval_ms = 200 }";
    const config = testConfig(
      model,
      `[runtimes.chat]\nmodel = "tiny"\n${FAST_RUNTIME.replace(/^health = .*$/m, health)}` +
        `args = ["--context-shift"]\n`,
    );
    await withSupervisor(config, testOptions(home), async (supervisor, events) => {
      await events.next("chat", "ready");
      const from = events.events.length;
      const controller = new AbortController();
      const response = await fetch(new URL("/completion", supervisor.upstream("chat")!), {
        method: "POST",
        body: JSON.stringify({ prompt: "Hi", n_predict: 1_000_000, stream: true }),
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      try {
        assert.equal((await reader.read()).done, false, "generating");
        const probe = await probeLlamaServer(supervisor.get("chat")!.port!, "deep", {
          timeoutMs: 500,
        });
        assert.equal((await reader.read()).done, false, "still generating after the probe");
        assert.deepEqual(probe, { ok: true, reason: "" });
        assert.deepEqual(events.states("chat").slice(from), []);
        assert.equal(supervisor.get("chat")!.state, "ready");
      } finally {
        controller.abort();
        await reader.cancel().catch(() => {});
      }
    });
  });
});
