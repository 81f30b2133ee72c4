import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../src/_util/exists.ts";
import { planTarget, type TargetPlan } from "../src/compile/mod.ts";
import { bundleGrants, hostTarget, TARGETS } from "../src/natives/mod.ts";
import { checkoutFlags, checkoutProgramFiles, type ProgramFiles } from "../src/permissions/mod.ts";
import { ensureBundle } from "./_util/natives.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** `deno compile` finds no network here quickly, but a run must never outlast this. */
const BOUND_MS = 120_000;

/** A loopback port nothing listens on: a proxy there makes every download fail at once. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno task compile <args>` in the checkout without network and without DENORT_BIN. */
async function compile(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const inherited = Deno.env.toObject();
  for (const name of ["DENORT_BIN", "NO_PROXY", "no_proxy"]) delete inherited[name];
  const proxy = `http://127.0.0.1:${closedPort()}`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "compile", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: { ...inherited, HTTPS_PROXY: proxy, HTTP_PROXY: proxy, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(BOUND_MS),
  }).output();
  assert.equal(output.signal, null, `deno task compile did not end within ${BOUND_MS} ms`);
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Where `deno compile` caches denort, if it ever downloaded it on this machine. */
async function cachedDenort(target: string): Promise<string | undefined> {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const { denoDir } = JSON.parse(new TextDecoder().decode(info.stdout)) as { denoDir: string };
  const path = join(denoDir, "dl", "release", `v${Deno.version.deno}`, `denort-${target}.zip`);
  return await exists(path) ? path : undefined;
}

const DEVICE_ARGS = [
  "--home",
  "/srv/edgellm",
  "--hub-endpoint",
  "https://hub.example:8443",
  "--allow-engine",
  "/opt/bitnet/bin/llama-server",
  "--allow-command",
  "/usr/bin/nice",
  "--allow-write",
  "/srv/outbox",
  "--env",
  "SITE_TOKEN",
];

Deno.test("compile --dry-run plans both targets with the flags of the chosen scope", async () => {
  const { code, stdout, stderr } = await compile(["--dry-run", "--json", ...DEVICE_ARGS]);
  assert.equal(code, 0, stderr);
  const plans = JSON.parse(stdout) as TargetPlan[];
  assert.deepEqual(plans.map((p) => p.target), [...TARGETS]);
  for (const plan of plans) {
    const { target } = plan;
    // Assembled or not, the plan names the loader as the natives code computes it.
    const { run } = await bundleGrants("/srv/edgellm", { target, embedded: true });
    assert.equal(plan.loader, run[0] ?? null);
    // The command line gives exactly the plan the tested pure function makes for this scope.
    const device = {
      targets: [...TARGETS],
      home: "/srv/edgellm",
      hubEndpoints: ["https://hub.example:8443"],
      engines: ["/opt/bitnet/bin/llama-server"],
      commands: ["/usr/bin/nice"],
      readPaths: [],
      writePaths: ["/srv/outbox"],
      envNames: ["SITE_TOKEN"],
    };
    assert.deepEqual(plan, planTarget(target, device, { loader: run[0], deno: Deno.execPath() }));
    const flags = plan.compile.join(" ");
    assert.match(
      flags,
      /--allow-read=\/srv\/edgellm,\/media,\/mnt,\/run\/media,[^ ]*\/srv\/outbox/,
    );
    assert.match(flags, /--allow-write=\/srv\/edgellm,\/media,\/mnt,\/run\/media,\/srv\/outbox /);
    assert.match(flags, /--allow-net=[^ ]*\bhub\.example:8443\b/);
    assert.match(
      flags,
      /--allow-run=\/srv\/edgellm\/natives\/[^ ]+,\/opt\/bitnet\/bin\/llama-server,/,
    );
    assert.match(flags, /--allow-env=[^ ]*\bSITE_TOKEN\b/);
    assert.match(flags, / --target [^ ]+ --include native\/dist\/[^ ]+ --output dist\/edgellm-/);
    assert.ok(!plan.compile.includes("-A") && !plan.compile.includes("--allow-all"));
  }
});

Deno.test("compile --dry-run prints the commands for one target, ready to paste", async () => {
  for (const target of TARGETS) {
    const { code, stdout } = await compile(["--dry-run", "--target", target]);
    assert.equal(code, 0);
    const commands = stdout.split("\n").filter((line) => line && !line.startsWith("#"));
    assert.equal(commands.length, 2, stdout);
    assert.match(commands[0]!, new RegExp(` task natives --target ${target}$`));
    assert.match(
      commands[1]!,
      new RegExp(
        ` compile --target ${target} --include native/dist/${target} ` +
          `--output dist/edgellm-${target} --allow-read=/var/lib/edgellm,.* main\\.ts$`,
      ),
    );
    assert.match(commands[1]!, / '--allow-net=127\.0\.0\.1,[^']*,huggingface\.co,/);
    assert.doesNotMatch(commands[1]!, / -A | --allow-all /);
  }
});

/** `flags` without the grants of the program's own files, which differ by design. */
function withoutProgramFiles(flags: readonly string[], program: ProgramFiles): string[] {
  const own: Record<string, readonly string[]> = {
    "--allow-read": program.read,
    "--allow-run": program.run,
  };
  return flags.map((flag) => {
    const [name = "", list] = flag.split("=", 2);
    if (list === undefined || !(name in own)) return flag;
    return `${name}=${list.split(",").filter((path) => !own[name]!.includes(path)).join(",")}`;
  });
}

Deno.test("compile --dry-run bakes in exactly the flags a checkout run gets, but for the bundle's place", async () => {
  const target = hostTarget();
  await ensureBundle(target);
  const home = await Deno.makeTempDir();
  try {
    const { code, stdout, stderr } = await compile([
      "--dry-run",
      "--json",
      "--target",
      target,
      "--home",
      home,
    ]);
    assert.equal(code, 0, stderr);
    const [plan] = JSON.parse(stdout) as TargetPlan[];
    assert.ok(plan?.loader, "the bundle is assembled, so the plan names its loader");
    const compiled = plan.compile.slice(plan.compile.indexOf(plan.output) + 1, -1);
    const checkout = await checkoutFlags({ home });
    // The compiled binary runs its extracted bundle (`<home>/natives/<hash>/`) and embeds its
    // code; a checkout runs `native/dist/<target>/` and reads the spawner Worker's module.
    const program = await checkoutProgramFiles(home);
    assert.match(plan.loader, new RegExp(`^${home}/natives/[0-9a-f]+/`));
    assert.match(program.run[0] ?? "", new RegExp(`/native/dist/${target}/`));
    assert.deepEqual(
      withoutProgramFiles(checkout, program),
      withoutProgramFiles(compiled, { run: [plan.loader], read: [] }),
    );
    // Both may read and write the home and the removable-media folders, whatever a command
    // line names.
    const transfer = `${home},/media,/mnt,/run/media`;
    assert.ok(checkout.some((flag) => flag.startsWith(`--allow-read=${transfer},`)), `${checkout}`);
    assert.ok(checkout.includes(`--allow-write=${transfer}`), `${checkout}`);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

const CACHED = await cachedDenort("aarch64-unknown-linux-gnu");

Deno.test({
  name: "compile fails fast and says how to fix it when denort cannot be had" +
    // With denort in DENO_DIR the build needs no network, so there is nothing to fail on.
    (CACHED ? ` (skipped: denort is cached at ${CACHED}, so no download is needed)` : ""),
  ignore: CACHED !== undefined,
  async fn() {
    const { code, stdout, stderr } = await compile(["--target", "aarch64-unknown-linux-gnu"]);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.match(
      stderr,
      /Cannot compile for "aarch64-unknown-linux-gnu": Deno's runtime for this target \(denort\) cannot be had/,
    );
    assert.match(
      stderr,
      /denort-aarch64-unknown-linux-gnu\.zip, which failed here \(.+\), and DENORT_BIN is not set/,
    );
    assert.match(
      stderr,
      /DENORT_BIN=\/path\/to\/denort deno task compile --target aarch64-unknown-linux-gnu/,
    );
    // It fails before the natives step.
    assert.doesNotMatch(stderr, /task natives/);
  },
});

Deno.test("compile refuses DENORT_BIN pointing at the deno executable", async () => {
  const { code, stderr } = await compile([], { DENORT_BIN: Deno.execPath() });
  assert.equal(code, 1);
  assert.match(
    stderr,
    /Cannot use DENORT_BIN ".+": it is the full deno executable, not denort; a binary built on it only starts the REPL/,
  );
});

Deno.test("compile exits 2 for an option a device could not use", async () => {
  const { code, stderr } = await compile(["--home", "relative/home"]);
  assert.equal(code, 2);
  assert.match(stderr, /Cannot use --home "relative\/home": it must be an absolute path/);
});
