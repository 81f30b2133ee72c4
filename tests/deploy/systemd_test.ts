import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCompileArgs } from "../../src/compile/mod.ts";
import { SYSTEM_HOME } from "../../src/config/mod.ts";
import { ExitCode } from "../../src/errors.ts";

const SYSTEMD = new URL("../../deploy/systemd/", import.meta.url).pathname;
const UNITS = ["edgellm.service", "edgellm-bootstrap.service", "edgellm-bootstrap.timer"];
const BINARY = "/usr/local/bin/edgellm";

async function tool(name: string): Promise<boolean> {
  const which = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`] }).output();
  return which.code === 0;
}

/**
 * `systemd-analyze verify` works without a running systemd (it loads the units offline), but
 * needs the package: `.ci/run` installs it.
 */
const NO_SYSTEMD_ANALYZE = !await tool("systemd-analyze");
const NO_SYSUSERS = !await tool("systemd-sysusers");
/** Shown in the test's name when it is ignored, so a skip never reads as a pass. */
const WHY_SKIPPED = " (skipped: systemd is not installed here; apt-get install systemd)";

/** A unit file as `section -> key -> values` (a key may repeat). */
type Unit = Map<string, Map<string, string[]>>;

async function readUnit(name: string): Promise<Unit> {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of (await Deno.readTextFile(join(SYSTEMD, name))).split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const [key = "", ...rest] = line.split("=");
    assert.ok(section, `${name}: "${line}" is outside a section`);
    section.set(key, [...section.get(key) ?? [], rest.join("=")]);
  }
  return unit;
}

function value(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

interface Verified {
  code: number;
  stderr: string;
}

/**
 * Verifies units with `systemd-analyze verify`. The compiled binary cannot be built here, so
 * ExecStart's path is swapped for an executable that exists (verify checks that it does).
 */
async function verify(units: Record<string, string>): Promise<Verified> {
  const dir = await Deno.makeTempDir();
  try {
    const binary = join(dir, "edgellm");
    await Deno.copyFile("/bin/true", binary);
    for (const [name, text] of Object.entries(units)) {
      await Deno.writeTextFile(join(dir, name), text.replaceAll(BINARY, binary));
    }
    const output = await new Deno.Command("systemd-analyze", {
      args: ["verify", "--man=no", ...Object.keys(units)],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function unitTexts(): Promise<Record<string, string>> {
  const texts: Record<string, string> = {};
  for (const name of UNITS) texts[name] = await Deno.readTextFile(join(SYSTEMD, name));
  return texts;
}

Deno.test({
  name: "systemd-analyze verify accepts the units without a warning" +
    (NO_SYSTEMD_ANALYZE ? WHY_SKIPPED : ""),
  ignore: NO_SYSTEMD_ANALYZE,
  async fn() {
    const { code, stderr } = await verify(await unitTexts());
    assert.equal(code, 0, stderr);
    assert.equal(stderr, "");
  },
});

Deno.test({
  name: "systemd-analyze verify reports a misspelt directive (the check above can fail)" +
    (NO_SYSTEMD_ANALYZE ? WHY_SKIPPED : ""),
  ignore: NO_SYSTEMD_ANALYZE,
  async fn() {
    const texts = await unitTexts();
    texts["edgellm.service"] = texts["edgellm.service"]!.replace("ProtectSystem=", "ProtectSystm=");
    const { stderr } = await verify(texts);
    assert.match(stderr, /Unknown key '?ProtectSystm'?/);
  },
});

Deno.test({
  name: "systemd-sysusers creates the service user with the home as its home" +
    (NO_SYSUSERS ? WHY_SKIPPED : ""),
  ignore: NO_SYSUSERS,
  async fn() {
    const root = await Deno.makeTempDir();
    try {
      await Deno.mkdir(join(root, "etc"));
      const output = await new Deno.Command("systemd-sysusers", {
        args: [`--root=${root}`, "--dry-run", join(SYSTEMD, "edgellm.sysusers")],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(output.stderr) +
        new TextDecoder().decode(output.stdout);
      assert.equal(output.code, 0, text);
      assert.match(text, /Creating user '?edgellm'?/);
      const line = (await Deno.readTextFile(join(SYSTEMD, "edgellm.sysusers")))
        .split("\n").find((l) => l.startsWith("u "));
      assert.equal(line?.split(/\s+/).at(-1), SYSTEM_HOME);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("the serve unit runs the binary hardened, in the home it was compiled for", async () => {
  const unit = await readUnit("edgellm.service");
  assert.match(value(unit, "Service", "ExecStart") ?? "", new RegExp(`^${BINARY} serve( |$)`));
  // compile.ts bakes this home into --allow-write; the unit must point the binary at it.
  assert.equal(parseCompileArgs([]).options.home, SYSTEM_HOME);
  assert.ok(unit.get("Service")?.get("Environment")?.includes(`EDGELLM_HOME=${SYSTEM_HOME}`));
  assert.equal(value(unit, "Service", "ReadWritePaths"), SYSTEM_HOME);
  assert.equal(value(unit, "Service", "StateDirectory"), "edgellm");
  const hardening: Record<string, string> = {
    User: "edgellm",
    NoNewPrivileges: "yes",
    ProtectSystem: "strict",
    ProtectHome: "yes",
    PrivateTmp: "yes",
    RestrictAddressFamilies: "AF_UNIX AF_INET AF_INET6",
    CapabilityBoundingSet: "",
  };
  for (const [key, expected] of Object.entries(hardening)) {
    assert.equal(value(unit, "Service", key), expected, key);
  }
});

Deno.test("the serve unit stops like the supervisor does and restarts only what can recover", async () => {
  const unit = await readUnit("edgellm.service");
  // SIGTERM to edgellm alone: it stops its children itself, then exits 0.
  assert.equal(value(unit, "Service", "KillMode"), "mixed");
  assert.equal(value(unit, "Service", "KillSignal"), "SIGTERM");
  assert.ok(Number(value(unit, "Service", "TimeoutStopSec")) >= 15);
  assert.equal(value(unit, "Service", "Restart"), "on-failure");
  assert.equal(value(unit, "Service", "RestartPreventExitStatus"), String(ExitCode.Usage));
  assert.equal(value(unit, "Service", "ExecReload"), "/bin/kill -HUP $MAINPID");
});

Deno.test("the bootstrap unit treats exit 75 as retry-later and its timer spreads the fleet", async () => {
  const service = await readUnit("edgellm-bootstrap.service");
  assert.equal(value(service, "Service", "Type"), "oneshot");
  assert.match(value(service, "Service", "ExecStart") ?? "", new RegExp(`^${BINARY} bootstrap`));
  assert.equal(value(service, "Service", "SuccessExitStatus"), String(ExitCode.TempFail));
  assert.ok(service.get("Service")?.get("Environment")?.includes(`EDGELLM_HOME=${SYSTEM_HOME}`));
  assert.equal(value(service, "Service", "ReadWritePaths"), SYSTEM_HOME);
  const timer = await readUnit("edgellm-bootstrap.timer");
  assert.equal(value(timer, "Timer", "Unit"), "edgellm-bootstrap.service");
  assert.ok(value(timer, "Timer", "RandomizedDelaySec"));
  assert.ok(value(timer, "Timer", "OnCalendar"));
});
