/**
 * `edgellm serve` as a user runs it: the real CLI under the product's permission flags
 * (`spawnEdgellm`), real llama-servers, real signals. Each test proves that no process of
 * its tree is left (`withTestHome` scans /proc for its temporary folder).
 */
import assert from "node:assert/strict";
import { runEdgellm, spawnEdgellm } from "../../_util/cli.ts";
import { processesMatching } from "../../_util/processes.ts";
import { configText, FAST_RUNTIME, withTestHome } from "../../_util/supervisor.ts";

type LogRecord = Record<string, unknown> & { msg: string };

interface Waiter {
  readonly predicate: (record: LogRecord) => boolean;
  readonly resolve: (record: LogRecord) => void;
}

/** The JSON log lines of a running `serve`, and waiting for one without polling. */
class ServeLog {
  readonly records: LogRecord[] = [];
  readonly done: Promise<void>;
  #waiters = new Set<Waiter>();

  constructor(stderr: ReadableStream<Uint8Array>) {
    this.done = this.#read(stderr);
  }

  async #read(stderr: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const text of stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        const record: LogRecord = line.startsWith("{") ? JSON.parse(line) : { msg: line };
        this.records.push(record);
        for (const waiter of this.#waiters) {
          if (waiter.predicate(record)) {
            this.#waiters.delete(waiter);
            waiter.resolve(record);
          }
        }
      }
    }
  }

  /** The first record from index `from` on (logged already or still to come) that matches. */
  next(
    what: string,
    predicate: (record: LogRecord) => boolean,
    from = 0,
  ): Promise<LogRecord> {
    const seen = this.records.slice(from).find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const log = this.records.map((r) => JSON.stringify(r)).join("\n");
        reject(new Error(`Timed out waiting for ${what}; serve logged:\n${log}`));
      }, 30_000);
      const waiter: Waiter = {
        predicate,
        resolve: (record) => {
          clearTimeout(timer);
          resolve(record);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /** Resolves when `runtime` logs the state `state` (from record index `from` on). */
  state(runtime: string, state: string, from = 0): Promise<LogRecord> {
    return this.next(
      `"${runtime}" to be ${state}`,
      (r) => r.msg === `runtime ${state}` && r["runtime"] === runtime,
      from,
    );
  }
}

interface Serve {
  readonly child: Deno.ChildProcess;
  readonly log: ServeLog;
  /** Waits for the exit and the end of its output; returns the exit code. */
  exit(): Promise<number>;
}

async function serve(home: string, config: string): Promise<Serve> {
  const child = await spawnEdgellm(["serve", "--port", "0"], { home, config });
  const log = new ServeLog(child.stderr);
  const stdout = new Response(child.stdout).text();
  return {
    child,
    log,
    async exit() {
      const { code } = await child.status;
      await Promise.all([log.done, stdout]);
      return code;
    },
  };
}

/** Pids of the llama-servers running `model`. */
function servers(model: string): number[] {
  return processesMatching(`--model ${model}`).map((p) => p.pid);
}

Deno.test("serve stops every child gracefully on SIGTERM before it exits 0", async () => {
  await withTestHome(async ({ home, model }) => {
    const config = `${home}/edgellm.toml`;
    await Deno.writeTextFile(
      config,
      configText(model, `[runtimes.chat]\nmodel = "tiny"\n${FAST_RUNTIME}`),
    );
    const s = await serve(home, config);
    await s.log.state("chat", "ready");
    assert.equal(servers(model).length, 1);
    s.child.kill("SIGTERM");
    assert.equal(await s.exit(), 0);
    // At the moment serve has exited, not after a wait that setpriv's parent-death signal
    // would also satisfy (review finding 9): serve itself stopped and reaped its children.
    assert.deepEqual(servers(model), []);
    const stopped = s.log.records.findLast((r) => r.msg === "runtime stopped");
    assert.equal(stopped?.["reason"], "edgellm is stopping");
    // Gracefully: llama-server exited 0 on SIGTERM (after the grace, SIGKILL would show). The
    // last exit: an earlier one may be a spawn that lost its port and was restarted.
    const exited = s.log.records.findLast((r) => r.msg === "runtime process exited");
    assert.deepEqual([exited?.["code"], exited?.["signal"]], [0, null]);
  });
});

Deno.test("serve after a SIGKILLed serve runs no duplicate llama-server", async () => {
  await withTestHome(async ({ home, model }) => {
    const config = `${home}/edgellm.toml`;
    await Deno.writeTextFile(
      config,
      configText(model, `[runtimes.chat]\nmodel = "tiny"\n${FAST_RUNTIME}`),
    );
    const first = await serve(home, config);
    await first.log.state("chat", "ready");
    const [old] = servers(model);
    first.child.kill("SIGKILL");
    await first.exit();

    const second = await serve(home, config);
    await second.log.state("chat", "ready");
    const running = servers(model);
    assert.equal(running.length, 1, `llama-servers: ${running}`);
    assert.notEqual(running[0], old);
    second.child.kill("SIGTERM");
    assert.equal(await second.exit(), 0);
  });
});

Deno.test("serve on SIGHUP applies a new configuration and keeps the running one when the new is bad", async () => {
  await withTestHome(async ({ home, model }) => {
    const config = `${home}/edgellm.toml`;
    const runtime = (id: string) => `[runtimes.${id}]\nmodel = "tiny"\n${FAST_RUNTIME}\n`;
    await Deno.writeTextFile(config, configText(model, runtime("a")));
    const s = await serve(home, config);
    await s.log.state("a", "ready");
    const [a] = servers(model);

    let from = s.log.records.length;
    await Deno.writeTextFile(config, configText(model, runtime("a") + runtime("b")));
    s.child.kill("SIGHUP");
    await s.log.state("b", "ready", from);
    assert.equal(servers(model).length, 2);
    assert.ok(servers(model).includes(a!), "a was not touched");

    from = s.log.records.length;
    await Deno.writeTextFile(config, configText(model, runtime("a") + "[runtimes.b]\nmodel = 3\n"));
    s.child.kill("SIGHUP");
    const refused = await s.log.next("the refusal", (r) => r.level === "error", from);
    assert.equal(refused.msg, "configuration refused; the running one stays");
    assert.match(JSON.stringify(refused), /runtimes\.b\.model/);
    assert.equal(servers(model).length, 2);

    from = s.log.records.length;
    await Deno.writeTextFile(config, configText(model, runtime("a")));
    s.child.kill("SIGHUP");
    await s.log.state("b", "stopped", from);
    assert.deepEqual(servers(model), [a]);

    s.child.kill("SIGTERM");
    assert.equal(await s.exit(), 0);
  });
});

Deno.test("serve refuses an engine_path outside the verified set with exit 2", async () => {
  await withTestHome(async ({ home, model }) => {
    const config = `${home}/edgellm.toml`;
    await Deno.writeTextFile(
      config,
      configText(model, `[runtimes.x]\nmodel = "tiny"\nengine_path = "/bin/sh"\n`),
    );
    const result = await runEdgellm(["serve", "--port", "0"], { home, config });
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /"runtimes\.x\.engine_path".*"\/bin\/sh" is not a llama-server build/,
    );
  });
});

Deno.test("serve exits 75 while another serve holds the same home", async () => {
  await withTestHome(async ({ home, model }) => {
    const config = `${home}/edgellm.toml`;
    await Deno.writeTextFile(config, configText(model, ""));
    const first = await serve(home, config);
    await first.log.next("serving", (r) => r.msg === "serving");
    const second = await runEdgellm(["serve", "--port", "0"], { home, config });
    assert.equal(second.code, 75, second.stderr);
    assert.match(second.stderr, /one edgellm serve per home/);
    first.child.kill("SIGINT");
    assert.equal(await first.exit(), 0);
  });
});
