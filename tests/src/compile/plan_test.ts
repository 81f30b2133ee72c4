import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CompileOptions,
  parseCompileArgs,
  planTarget,
  shellQuote,
} from "../../../src/compile/mod.ts";
import { UsageError } from "../../../src/errors.ts";
import { bundleGrants, bundleHash, TARGETS } from "../../../src/natives/mod.ts";
import { denoFlags } from "../../../src/permissions/mod.ts";

const MANIFEST = await Deno.readTextFile(
  new URL("../../testdata/compile/manifest.json", import.meta.url),
);

/** The loader path a binary built from a dist folder holding MANIFEST would run. */
async function fixtureLoader(home: string): Promise<string> {
  const distDir = await Deno.makeTempDir();
  try {
    const target = "aarch64-unknown-linux-gnu";
    await Deno.mkdir(join(distDir, target));
    await Deno.writeTextFile(join(distDir, target, "manifest.json"), MANIFEST);
    const { run } = await bundleGrants(home, { target, distDir, embedded: true });
    assert.equal(run.length, 1);
    return run[0]!;
  } finally {
    await Deno.remove(distDir, { recursive: true });
  }
}

const DEVICE: CompileOptions = {
  targets: TARGETS,
  home: "/srv/edgellm",
  hubEndpoints: ["https://hub.example:8443"],
  engines: ["/opt/bitnet/bin/llama-server"],
  commands: ["/usr/bin/nice"],
  readPaths: ["/opt/models/x.gguf"],
  writePaths: ["/srv/outbox"],
  envNames: ["SITE_TOKEN"],
};

Deno.test("the natives name the loader of a compiled binary by the manifest's hash", async () => {
  assert.equal(
    await fixtureLoader("/srv/edgellm"),
    `/srv/edgellm/natives/${bundleHash(MANIFEST)}/lib/ld-linux-aarch64.so.1`,
  );
});

Deno.test("planTarget() compiles with the flags of the device's scope for each target", async () => {
  const loader = await fixtureLoader("/srv/edgellm");
  for (const target of TARGETS) {
    const plan = planTarget(target, DEVICE, { loader, deno: "deno" });
    const flags = denoFlags({
      home: "/srv/edgellm",
      readPaths: ["/opt/bitnet/bin/llama-server", "/opt/models/x.gguf"],
      writePaths: ["/srv/outbox"],
      runPaths: [
        `/srv/edgellm/natives/${bundleHash(MANIFEST)}/lib/ld-linux-aarch64.so.1`,
        "/opt/bitnet/bin/llama-server",
        "/usr/bin/nice",
      ],
      hubEndpoints: ["https://hub.example:8443"],
      envNames: ["SITE_TOKEN"],
    });
    assert.deepEqual(plan.compile, [
      "deno",
      "compile",
      "--target",
      target,
      "--include",
      `native/dist/${target}`,
      "--output",
      `dist/edgellm-${target}`,
      ...flags,
      "main.ts",
    ]);
    assert.deepEqual(plan.natives, ["deno", "task", "natives", "--target", target]);
    assert.equal(plan.output, `dist/edgellm-${target}`);
  }
});

Deno.test("planTarget() grants no permission without a scope", async () => {
  const loader = await fixtureLoader("/srv/edgellm");
  const plan = planTarget("x86_64-unknown-linux-gnu", DEVICE, { loader });
  for (const arg of plan.compile) {
    assert.ok(!["-A", "--allow-all"].includes(arg), arg);
    if (arg.startsWith("--allow-")) assert.match(arg, /^--allow-[a-z]+=./, arg);
  }
  assert.ok(plan.compile.includes("--no-prompt"));
});

Deno.test("planTarget() marks the bundle as pending before it is assembled", () => {
  const plan = planTarget("aarch64-unknown-linux-gnu", DEVICE);
  assert.equal(plan.loader, null);
  const run = plan.compile.find((arg) => arg.startsWith("--allow-run="));
  assert.match(run ?? "", /^--allow-run=\/srv\/edgellm\/natives\/<bundle-hash>\/<loader>,/);
});

Deno.test("parseCompileArgs() defaults to both targets, the system home and the public hub", () => {
  const { options, dryRun, json } = parseCompileArgs([]);
  assert.deepEqual(options, {
    targets: [...TARGETS],
    home: "/var/lib/edgellm",
    hubEndpoints: ["https://huggingface.co"],
    engines: [],
    commands: [],
    readPaths: [],
    writePaths: [],
    envNames: [],
  });
  assert.equal(dryRun, false);
  assert.equal(json, false);
});

Deno.test("parseCompileArgs() takes repeatable options for what a device may do", () => {
  const { options } = parseCompileArgs([
    "--target=aarch64-unknown-linux-gnu",
    "--home=/srv/edgellm/",
    "--hub-endpoint=https://hub.example:8443",
    "--allow-engine=/opt/bitnet/bin/llama-server",
    "--allow-command=/usr/bin/nice",
    "--allow-read=/opt/models/x.gguf",
    "--allow-write=/srv/outbox",
    "--env=SITE_TOKEN",
    "--dry-run",
  ]);
  assert.deepEqual(options, { ...DEVICE, targets: ["aarch64-unknown-linux-gnu"] });
});

Deno.test("parseCompileArgs() throws UsageError for values a device could not use", () => {
  const cases: [string[], RegExp][] = [
    [["--target", "x86_64-apple-darwin"], /Cannot compile for "x86_64-apple-darwin": use one of/],
    [["--home", "var/lib/edgellm"], /--home "var\/lib\/edgellm": it must be an absolute path/],
    [["--allow-engine", "llama-server"], /--allow-engine "llama-server": it must be an absolute/],
    [["--allow-write", "out"], /--allow-write "out": it must be an absolute path/],
    [["--hub-endpoint", "ftp://hub"], /--hub-endpoint "ftp:\/\/hub": it must be an http\(s\) URL/],
    [["--env", "A-B"], /--env "A-B": it is not an environment variable name/],
    [["--allow-everything"], /Cannot parse the arguments: .*--allow-everything/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseCompileArgs(args), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("shellQuote() quotes only what a POSIX shell would change", () => {
  assert.equal(shellQuote("--allow-write=/var/lib/edgellm"), "--allow-write=/var/lib/edgellm");
  assert.equal(shellQuote("--allow-net=[::1],a"), "'--allow-net=[::1],a'");
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
});
