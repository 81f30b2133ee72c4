import assert from "node:assert/strict";
import { SYSTEM_HOME } from "../../src/config/mod.ts";

const CRON_FILE = new URL("../../deploy/cron/edgellm-bootstrap", import.meta.url);

interface CronFile {
  env: Record<string, string>;
  jobs: { schedule: string[]; user: string; command: string }[];
}

/** Reads an `/etc/cron.d` file: `NAME=value` lines and `m h dom mon dow user command` lines. */
async function readCronFile(): Promise<CronFile> {
  const file: CronFile = { env: {}, jobs: [] };
  for (const raw of (await Deno.readTextFile(CRON_FILE)).split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const env = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (env) {
      file.env[env[1]!] = env[2]!;
      continue;
    }
    const fields = line.split(/\s+/);
    file.jobs.push({
      schedule: fields.slice(0, 5),
      user: fields[5] ?? "",
      command: fields.slice(6).join(" "),
    });
  }
  return file;
}

Deno.test("the cron file reruns bootstrap hourly as the service user in the home", async () => {
  const { env, jobs } = await readCronFile();
  assert.equal(env["EDGELLM_HOME"], SYSTEM_HOME);
  assert.equal(env["SHELL"], "/bin/sh");
  assert.equal(jobs.length, 1);
  const [job] = jobs;
  for (const field of job!.schedule) assert.match(field, /^(\*|\d+)$/);
  assert.equal(job!.schedule.slice(1).join(" "), "* * * *");
  assert.equal(job!.user, "edgellm");
  assert.match(job!.command, /^sleep "\$\(shuf -i 0-\d+ -n 1\)"; /);
  assert.match(job!.command, /; \/usr\/local\/bin\/edgellm bootstrap /);
});

Deno.test("the cron command is valid sh and has no % (which cron turns into a newline)", async () => {
  const { jobs } = await readCronFile();
  const command = jobs[0]!.command;
  assert.ok(!command.includes("%"));
  const check = await new Deno.Command("/bin/sh", {
    args: ["-n", "-c", command],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(check.code, 0, new TextDecoder().decode(check.stderr));
});
