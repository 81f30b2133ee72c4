import assert from "node:assert/strict";
import { planReload } from "../../../src/supervisor/reload_plan.ts";
import type { RuntimeSpec } from "../../../src/supervisor/runtime.ts";

function spec(id: string, change: Partial<RuntimeSpec> = {}): RuntimeSpec {
  return {
    id,
    model: "m",
    command: "/loader",
    args: ["--model", "/m.gguf"],
    cwd: `/home/runtimes/${id}`,
    env: { PATH: "/usr/bin" },
    autoStart: true,
    restart: { max_restarts: 5, window_s: 300, backoff_initial_ms: 500, backoff_max_ms: 30_000 },
    health: {
      interval_ms: 2000,
      timeout_ms: 1000,
      failures_before_restart: 3,
      startup_timeout_s: 120,
      deep_interval_ms: 0,
    },
    stopGraceMs: 10_000,
    ...change,
  };
}

Deno.test("planReload sorts runtimes into added, removed, changed and unchanged", () => {
  const current = new Map([
    ["same", spec("same")],
    ["args", spec("args")],
    ["off", spec("off")],
    ["gone", spec("gone")],
  ]);
  const next = new Map([
    ["same", spec("same")],
    ["args", spec("args", { args: ["--model", "/m.gguf", "--mlock"] })],
    ["off", spec("off", { autoStart: false })],
    ["new", spec("new")],
  ]);
  assert.deepEqual(planReload(current, next), {
    added: ["new"],
    removed: ["gone"],
    changed: ["args", "off"],
    unchanged: ["same"],
  });
});
