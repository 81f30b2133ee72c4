import { createSupervisor } from "../src/supervisor/mod.ts";
import { parseConfig } from "../src/config/mod.ts";
import { execLine, loadBundle } from "../src/natives/mod.ts";
import { createLogger } from "../src/log/mod.ts";
const home = await Deno.makeTempDir();
const bundle = await loadBundle(home);
const config = parseConfig(`
[models.tiny]
path = "/root/sv-exp/tiny.gguf"
[runtimes.chat]
model = "tiny"
threads = 1
ctx_size = 256
parallel = 1
health = { interval_ms = 200, timeout_ms = 500, failures_before_restart = 2, startup_timeout_s = 20, deep_interval_ms = 1000 }
restart = { max_restarts = 2, window_s = 60, backoff_initial_ms = 100, backoff_max_ms = 1000 }
`, { env: {} });
const t0 = performance.now();
const sup = await createSupervisor(config, {
  home, logger: createLogger({ format: "pretty", level: "debug" }),
  execLine: (p) => execLine({ bundle, executable: p }),
  resolveModel: (_id, m) => m.path!, stopGraceMs: 3000,
});
sup.subscribe((e) => console.log("EVENT", e.from, "->", e.to, e.reason, Math.round(performance.now() - t0)));
const wait = (pred: () => boolean) => new Promise<void>((r) => { const i = setInterval(() => { if (pred()) { clearInterval(i); r(); } }, 20); });
await wait(() => sup.get("chat")?.state === "ready");
console.log(sup.get("chat"), sup.upstream("chat")?.href);
const r = await fetch(new URL("/completion", sup.upstream("chat")), { method: "POST", body: JSON.stringify({ prompt: "hi", n_predict: 4 }) });
console.log((await r.json()).content);
const pid = sup.get("chat")!.pid!;
Deno.kill(pid, "SIGKILL");
await wait(() => sup.get("chat")?.state === "backoff");
await wait(() => sup.get("chat")?.state === "ready");
console.log("ready again", sup.get("chat")?.pid, sup.get("chat")?.restarts);
const pid2 = sup.get("chat")!.pid!;
Deno.kill(pid2, "SIGSTOP");
await wait(() => sup.get("chat")?.state === "degraded");
await wait(() => sup.get("chat")?.state === "ready");
console.log("after stop", sup.get("chat"));
console.log(sup.logs("chat", { tail: 3 }));
await sup.shutdown();
console.log("shutdown done", Math.round(performance.now() - t0));
