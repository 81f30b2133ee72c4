import { spawnEdgellm } from "./_util/cli.ts";
const home = await Deno.makeTempDir();
await Deno.writeTextFile(`${home}/edgellm.toml`, `
[models.tiny]
path = "/root/sv-exp/tiny.gguf"
[runtimes.chat]
model = "tiny"
threads = 1
ctx_size = 256
parallel = 1
health = { interval_ms = 200, timeout_ms = 500, failures_before_restart = 2, startup_timeout_s = 20 }
`);
const child = await spawnEdgellm(["serve"], { home, config: `${home}/edgellm.toml` });
const t0 = Date.now();
await new Promise((r) => setTimeout(r, 4000));
try { child.kill("SIGTERM"); } catch {}
const out = await child.output();
console.log(out.code, Date.now() - t0);
console.log(new TextDecoder().decode(out.stderr));
