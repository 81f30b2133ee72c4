/**
 * One-shot jobs against real processes: small shell scripts that record, with their own
 * clock, when they start and end; `sleep` for deadlines; the bundle's llama-completion.
 */
import assert from "node:assert/strict";
import { MAX_COMPLETION_ATTEMPTS } from "../../../src/run/run_completion.ts";
import { InvalidJobError, type Supervisor } from "../../../src/supervisor/mod.ts";
import type { JobSnapshot } from "../../../src/supervisor/types.ts";
import { bundledTool } from "../../_util/natives.ts";
import { testConfig, testOptions, withSupervisor, withTestHome } from "../../_util/supervisor.ts";
import { assertNoProcesses, processesMatching } from "../../_util/processes.ts";
import { waitFor } from "../../_util/wait_for.ts";

const SLEEP = "/usr/bin/sleep";
const ENV = "/usr/bin/env";

/**
 * `<dir>/work NAME [SECONDS]`: appends "start NAME <ns>" and "end NAME <ns>" to
 * `<dir>/trace`, sleeping in between (0.2 s by default).
 */
async function workScript(dir: string): Promise<string> {
  const path = `${dir}/work`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\necho "start $1 $(date +%s%N)" >> ${dir}/trace\nsleep "\${2:-0.2}"\n` +
      `echo "end $1 $(date +%s%N)" >> ${dir}/trace\n[ "$3" = fail ] && exit 3\nexit 0\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

interface Interval {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

/** What the children recorded, in start order. */
function trace(dir: string): Interval[] {
  const starts = new Map<string, number>();
  const intervals: Interval[] = [];
  for (const line of Deno.readTextFileSync(`${dir}/trace`).trim().split("\n")) {
    const [kind, name, ns] = line.split(" ") as [string, string, string];
    const at = Number(BigInt(ns) / 1000n) / 1000; // ms
    if (kind === "start") starts.set(name, at);
    else intervals.push({ name, start: starts.get(name)!, end: at });
  }
  return intervals.sort((a, b) => a.start - b.start);
}

/** The most intervals that overlapped at any instant. */
function maxOverlap(intervals: readonly Interval[]): number {
  const edges = intervals.flatMap((i) => [[i.start, 1], [i.end, -1]] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, delta] of edges) max = Math.max(max, now += delta);
  return max;
}

function jobsConfig(model: string, jobs: string, commands: string[]) {
  const allow = JSON.stringify(commands);
  return testConfig(model, `[jobs]\nallow_commands = ${allow}\n${jobs}\n`);
}

async function submitAll(supervisor: Supervisor, bodies: unknown[]): Promise<JobSnapshot[]> {
  const jobs: JobSnapshot[] = [];
  for (const body of bodies) jobs.push(await supervisor.jobs.submit(body));
  return jobs;
}

async function waitAll(supervisor: Supervisor, jobs: readonly JobSnapshot[]) {
  return await Promise.all(jobs.map(async (job) => (await supervisor.jobs.wait(job.id))!));
}

Deno.test("JobManager never runs more jobs at once than jobs.concurrency, as the jobs measure it", async () => {
  await withTestHome(async ({ dir, home, model }) => {
    const work = await workScript(dir);
    const config = jobsConfig(model, "concurrency = 2", [work]);
    await withSupervisor(config, testOptions(home), async (supervisor) => {
      const jobs = await submitAll(
        supervisor,
        Array.from(
          { length: 6 },
          (_, n) => ({ kind: "custom", command: work, args: [`j${n}`, "0.3"] }),
        ),
      );
      assert.deepEqual(jobs.map((j) => j.state), [
        "running",
        "running",
        ...Array(4).fill("queued"),
      ]);
      const done = await waitAll(supervisor, jobs);
      assert.ok(done.every((j) => j.state === "succeeded"));
      const intervals = trace(dir);
      assert.equal(intervals.length, 6);
      assert.equal(maxOverlap(intervals), 2);
    });
  });
});

Deno.test("JobManager stops a job at its deadline and reports a timeout, distinct from a failure", async () => {
  await withTestHome(async ({ dir, home, model }) => {
    const work = await workScript(dir);
    const config = jobsConfig(model, "", [SLEEP, work]);
    await withSupervisor(config, testOptions(home), async (supervisor) => {
      const [slow, failing, fine] = await submitAll(supervisor, [
        { kind: "custom", command: SLEEP, args: ["30"], timeout_s: 0.5 },
        { kind: "custom", command: work, args: ["f", "0", "fail"] },
        { kind: "custom", command: work, args: ["ok", "0"] },
      ]);
      const [timedOut, failed, succeeded] = await waitAll(supervisor, [slow!, failing!, fine!]);
      assert.equal(timedOut!.state, "timed_out");
      assert.equal(timedOut!.reason, "deadline of 0.5 s passed");
      // Stopped by the deadline, not ended by itself (sleep 30 would exit 0): SIGTERM first,
      // as for `edgellm run` (runOneShot); SIGKILL only after the grace. No timing asserted
      // (review finding 9: a timed window is flaky on two cores).
      assert.deepEqual(timedOut!.exit, { code: null, signal: "SIGTERM" });
      assert.equal(failed!.state, "failed");
      assert.equal(failed!.reason, "exited with code 3");
      assert.deepEqual(failed!.exit, { code: 3, signal: null });
      assert.equal(succeeded!.state, "succeeded");
    });
  });
});

Deno.test("JobManager under priority starts waiting jobs lowest value first", async () => {
  await withTestHome(async ({ dir, home, model }) => {
    const work = await workScript(dir);
    const config = jobsConfig(model, `concurrency = 1\npolicy = "priority"`, [work]);
    await withSupervisor(config, testOptions(home), async (supervisor) => {
      const job = (name: string, priority: number) => ({
        kind: "custom",
        command: work,
        args: [name, "0.05"],
        priority,
      });
      const jobs = await submitAll(supervisor, [
        job("blocker", 0),
        job("p5", 5),
        job("p1", 1),
        job("p3", 3),
        job("pminus", -1),
      ]);
      await waitAll(supervisor, jobs);
      assert.deepEqual(trace(dir).map((i) => i.name), ["blocker", "pminus", "p1", "p3", "p5"]);
    });
  });
});

Deno.test("JobManager under weighted-fair shares starts by backend weight within one job", async () => {
  await withTestHome(async ({ dir, home, model }) => {
    const work = await workScript(dir);
    const config = jobsConfig(model, `concurrency = 1\nweights = { a = 2, b = 1 }`, [work]);
    await withSupervisor(config, testOptions(home), async (supervisor) => {
      const bodies: unknown[] = [{ kind: "custom", command: work, args: ["blocker", "0.1"] }];
      for (let n = 0; n < 6; n++) {
        for (const backend of ["a", "b"]) {
          bodies.push({ kind: "custom", command: work, args: [`${backend}${n}`, "0"], backend });
        }
      }
      await waitAll(supervisor, await submitAll(supervisor, bodies));
      const order = trace(dir).map((i) => i.name).slice(1);
      // Stated tolerance: in every prefix of the first 9 starts, a's count is within one of 2/3.
      for (let k = 1; k <= 9; k++) {
        const a = order.slice(0, k).filter((name) => name.startsWith("a")).length;
        assert.ok(Math.abs(a - (2 * k) / 3) <= 1, `after ${k}: ${order.slice(0, k)}`);
      }
    });
  });
});

Deno.test("JobManager under resource-aware waits for the pool and releases it on failure, timeout, spawn error and cancel", async () => {
  await withTestHome(async ({ dir, home, model }) => {
    const work = await workScript(dir);
    const missing = `${dir}/missing`;
    const config = jobsConfig(
      model,
      `concurrency = 4\npolicy = "resource-aware"\nresources = { cpu = 2 }`,
      [work, SLEEP, missing],
    );
    await withSupervisor(config, testOptions(home), async (supervisor) => {
      const cpu2 = { resources: { cpu: 2 } };
      const [failing, afterFailure, slow, afterTimeout, absent, afterSpawnError, cancelled, last] =
        await submitAll(supervisor, [
          { kind: "custom", command: work, args: ["fails", "0.1", "fail"], ...cpu2 },
          { kind: "custom", command: work, args: ["w1", "0"], ...cpu2 },
          { kind: "custom", command: SLEEP, args: ["30"], timeout_s: 0.3, ...cpu2 },
          { kind: "custom", command: work, args: ["w2", "0"], ...cpu2 },
          { kind: "custom", command: missing, ...cpu2 },
          { kind: "custom", command: work, args: ["w3", "0"], ...cpu2 },
          { kind: "custom", command: SLEEP, args: ["30"], ...cpu2 },
          { kind: "custom", command: work, args: ["w4", "0"], ...cpu2 },
        ]);
      assert.equal(supervisor.jobs.get(afterFailure!.id)!.state, "queued");
      await waitFor(
        "the job to cancel to run",
        () => supervisor.jobs.get(cancelled!.id)!.state === "running",
      );
      assert.equal((await supervisor.jobs.cancel(cancelled!.id))!.state, "cancelled");
      const done = await waitAll(supervisor, [
        failing!,
        afterFailure!,
        slow!,
        afterTimeout!,
        absent!,
        afterSpawnError!,
        cancelled!,
        last!,
      ]);
      assert.deepEqual(done.map((j) => j.state), [
        "failed",
        "succeeded",
        "timed_out",
        "succeeded",
        "failed",
        "succeeded",
        "cancelled",
        "succeeded",
      ]);
      // Through setpriv the spawn succeeds and the exec fails; without it, the spawn fails.
      assert.match(`${done[4]!.reason} ${done[4]!.stderr}`, /No such file/);
      // Each waited for the previous reservation to be released, whatever its outcome.
      for (let n = 1; n < done.length; n++) {
        assert.ok(
          Date.parse(done[n]!.started_at!) >= Date.parse(done[n - 1]!.ended_at!),
          `${n} started before ${n - 1} ended`,
        );
      }
    });
  });
});

Deno.test("JobManager refuses commands outside jobs.allow_commands and impossible reservations", async () => {
  await withTestHome(async ({ home, model }) => {
    const config = testConfig(
      model,
      `[jobs]\nallow_commands = ["${ENV}"]\nresources = { cpu = 2 }\n`,
    );
    await withSupervisor(config, testOptions(home), async (supervisor) => {
      await assert.rejects(
        supervisor.jobs.submit({ kind: "custom", command: "/bin/sh", args: ["-c", "id"] }),
        (error: unknown) => {
          assert.ok(error instanceof InvalidJobError);
          assert.match(error.message, /"\/bin\/sh" is not in jobs.allow_commands/);
          return true;
        },
      );
      await assert.rejects(
        supervisor.jobs.submit({ kind: "custom", command: ENV, resources: { cpu: 3 } }),
        /holds only 2/,
      );
      await assert.rejects(supervisor.jobs.submit({ kind: "shell" }), InvalidJobError);
      await assert.rejects(
        supervisor.jobs.submit({ kind: "inference", model: "nope", prompt: "x" }),
        /"nope" is not defined/,
      );
    });
  });
});

Deno.test("JobManager runs a job with only the allow-listed environment and bounded output", async () => {
  Deno.env.set("HF_TOKEN", "hf_secret");
  Deno.env.set("EDGELLM_TOKEN", "api_secret");
  try {
    await withTestHome(async ({ dir, home, model }) => {
      const loud = `${dir}/loud`;
      await Deno.writeTextFile(loud, "#!/bin/sh\nhead -c 3000000 /dev/zero | tr '\\0' x\n");
      await Deno.chmod(loud, 0o755);
      const config = testConfig(model, `[jobs]\nallow_commands = ["${ENV}", "${loud}"]\n`);
      await withSupervisor(config, testOptions(home), async (supervisor) => {
        const env = await supervisor.jobs.submit({ kind: "custom", command: ENV });
        const result = (await supervisor.jobs.wait(env.id))!;
        const names = result.stdout.trim().split("\n").map((l) => l.split("=")[0]).sort();
        assert.deepEqual(names, ["HOME", "LANG", "PATH"]);
        assert.doesNotMatch(result.stdout, /secret/);

        const big = (await supervisor.jobs.wait(
          (await supervisor.jobs.submit({
            kind: "custom",
            command: loud,
          })).id,
        ))!;
        assert.equal(big.state, "succeeded");
        assert.equal(big.stdout_truncated, true);
        assert.ok(big.stdout.length <= 1024 * 1024 && big.stdout.length > 0);
      });
    });
  } finally {
    Deno.env.delete("HF_TOKEN");
    Deno.env.delete("EDGELLM_TOKEN");
  }
});

Deno.test("JobManager runs a one-shot completion with the bundle's llama-completion", async () => {
  await withTestHome(async ({ home, model }) => {
    await withSupervisor(testConfig(model, ""), testOptions(home), async (supervisor) => {
      const job = await supervisor.jobs.submit({
        kind: "inference",
        model: "tiny",
        prompt: "Hello",
        n_predict: 8,
      });
      assert.equal(job.backend, "tiny");
      const done = (await supervisor.jobs.wait(job.id))!;
      assert.equal(done.state, "succeeded", done.stderr);
      assert.ok(done.stdout.trim().length > 0, "it printed the completion");
      assert.equal(done.stdout.includes("Hello"), false, "the prompt is not echoed");
    });
  });
});

/** The performance report llama-completion prints last, on stderr (see `parseCompletion`). */
const PERF = `common_perf_print:    samplers time =       0.04 ms /    11 tokens
common_perf_print:        load time =     363.89 ms
common_perf_print: prompt eval time =     363.77 ms /     3 tokens
common_perf_print:        eval time =      76.88 ms /     7 runs
common_perf_print:       total time =     441.85 ms /    10 tokens
`;

Deno.test("JobManager reruns an inference job whose llama-completion cut its output short", async () => {
  // llama.cpp build 11669's llama-completion sometimes exits 0 having lost the end of its
  // output (and its performance report). A stand-in that loses it on its first runs (per
  // prompt: "once" on the first, "always" on every one) makes the rerun deterministic.
  await withTestHome(async ({ dir, home, model }) => {
    const completion = `${dir}/llama-completion`;
    await Deno.writeTextFile(
      completion,
      `#!/bin/sh
prompt="$4"
echo run >> "${dir}/runs-$prompt"
` +
        `if [ "$prompt" = always ] || [ "$(wc -l < "${dir}/runs-$prompt")" -eq 1 ]; then
` +
        `  printf 'Hel'; exit 0
fi
printf 'Hello\n\n'
cat >&2 <<'EOF'
${PERF}EOF
`,
    );
    await Deno.chmod(completion, 0o755);
    const options = testOptions(home, {
      execLine: (program) =>
        program === "llama-completion" ? { command: completion, args: [] } : bundledTool(program),
    });
    await withSupervisor(testConfig(model, ""), options, async (supervisor) => {
      const [once, always] = await waitAll(
        supervisor,
        await submitAll(supervisor, [
          { kind: "inference", model: "tiny", prompt: "once", n_predict: 2 },
          { kind: "inference", model: "tiny", prompt: "always", n_predict: 2 },
        ]),
      );
      assert.equal(once!.state, "succeeded", once!.reason);
      assert.equal(once!.stdout, "Hello\n\n");
      assert.equal(Deno.readTextFileSync(`${dir}/runs-once`), "run\n".repeat(2));
      assert.equal(always!.state, "failed");
      assert.match(
        always!.reason,
        new RegExp(`cut its output short ${MAX_COMPLETION_ATTEMPTS} times in a row`),
      );
      assert.equal(
        Deno.readTextFileSync(`${dir}/runs-always`),
        "run\n".repeat(MAX_COMPLETION_ATTEMPTS),
      );
    });
  });
});

Deno.test({
  name: "JobManager runs jobs as the run_as user when edgellm runs as root",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await withTestHome(async ({ dir, home, model }) => {
      // The user must be able to reach its working folder (temporary folders are 0700).
      await Deno.chmod(dir, 0o755);
      await Deno.chmod(home, 0o755);
      const config = testConfig(
        model,
        `[jobs]\nallow_commands = ["/usr/bin/id"]\nrun_as = { uid = 65534, gid = 65534 }\n`,
      );
      await withSupervisor(config, testOptions(home), async (supervisor) => {
        const job = await supervisor.jobs.submit({ kind: "custom", command: "/usr/bin/id" });
        const done = (await supervisor.jobs.wait(job.id))!;
        assert.equal(done.state, "succeeded", JSON.stringify(done));
        assert.match(done.stdout, /^uid=65534\b.* gid=65534\b/);
      });
    });
  },
});

Deno.test("JobManager stops a job's background commands with it at its deadline (review finding 2)", async () => {
  await withTestHome(async ({ dir, home, model }) => {
    // A script that leaves its work to a background command and waits for it: before the
    // fix only the script's pid got SIGTERM and the sleep ran on. Deterministic: the job
    // ends only by its deadline, and nothing else would stop the sleep for 300 s.
    const marker = `300.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
    const script = `${dir}/background`;
    await Deno.writeTextFile(script, `#!/bin/sh\n${SLEEP} ${marker} &\nwait\n`);
    await Deno.chmod(script, 0o755);
    const config = jobsConfig(model, "", [script]);
    await withSupervisor(config, testOptions(home), async (supervisor) => {
      const job = await supervisor.jobs.submit({ kind: "custom", command: script, timeout_s: 1 });
      await waitFor("the background sleep", () => processesMatching(marker).length === 1);
      const ended = (await supervisor.jobs.wait(job.id))!;
      assert.equal(ended.state, "timed_out");
      assert.deepEqual(ended.exit, { code: null, signal: "SIGTERM" });
      await assertNoProcesses(marker);
    });
  });
});
