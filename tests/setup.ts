/**
 * Installs the system packages the test suite needs (part of `deno task test`, so one command
 * sets up a fresh machine): `qemu-user-static` runs the aarch64 bundle, `systemd` provides
 * `systemd-analyze verify` for the unit files, `prometheus` provides `promtool` that checks
 * `/metrics`. Without root it says what to install.
 *
 * @module
 */
import { exists } from "../src/_util/exists.ts";

/** Executable → Debian package that provides it. */
const NEEDED: Record<string, string> = {
  "/usr/bin/qemu-aarch64-static": "qemu-user-static",
  "/usr/bin/systemd-analyze": "systemd",
  "/usr/bin/promtool": "prometheus",
};

async function apt(args: string[]): Promise<void> {
  const { code } = await new Deno.Command("apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    throw new Error(`Cannot set up the tests: apt-get ${args.join(" ")} exited ${code}`);
  }
}

async function main(): Promise<void> {
  const missing: string[] = [];
  for (const [path, pkg] of Object.entries(NEEDED)) if (!(await exists(path))) missing.push(pkg);
  if (missing.length === 0) return;
  if (Deno.uid() !== 0) {
    console.error(`The tests need: sudo apt-get install ${missing.join(" ")}`);
    Deno.exit(1);
  }
  console.error(`Installing ${missing.join(", ")} for the tests`);
  await apt(["update", "-qq"]);
  await apt(["install", "-y", "-qq", "--no-install-recommends", ...missing]);
}

if (import.meta.main) await main();
