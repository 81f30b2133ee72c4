/**
 * Bootstrapper benchmarks, each against a baseline in the same run:
 *
 * - `download_throughput`: `edgellm bootstrap` (the real CLI under its permission flags,
 *   hashing, checkpointing) vs `curl -L` fetching the same file from the same local fake hub.
 * - `resume_waste`: bytes fetched twice when a bootstrap is SIGKILLed mid-file and rerun, vs
 *   what a downloader without resume fetches again (everything it had).
 *
 * Run alone: `deno run -A bench/bootstrap_bench.ts`. Prints one JSON object per line.
 *
 * @module
 */
import { join } from "node:path";
import { runEdgellm, spawnEdgellm } from "../tests/_util/cli.ts";
import { fakeBytes, FakeHub } from "../tests/_util/fake_hub.ts";
import { waitFor } from "../tests/_util/wait_for.ts";

const MiB = 1 << 20;

function repeated(size: number): Uint8Array {
  const pattern = fakeBytes(MiB, 99);
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += MiB) {
    bytes.set(pattern.subarray(0, Math.min(MiB, size - offset)), offset);
  }
  bytes[0] = 1; // not a whole number of identical blocks
  return bytes;
}

function print(metric: string, value: number, baseline: number, unit: string): void {
  console.log(JSON.stringify({
    bench: "bootstrap",
    metric,
    value: Number(value.toFixed(3)),
    baseline: Number(baseline.toFixed(3)),
    ratio: Number((baseline === 0 ? 0 : value / baseline).toFixed(3)),
    unit,
  }));
}

async function throughput(hub: FakeHub, size: number): Promise<void> {
  const commit = hub.commit("bench/big", [{ path: "big.gguf", content: repeated(size) }]);
  const scratch = await Deno.makeTempDir();
  try {
    const curlStart = performance.now();
    const curl = await new Deno.Command("curl", {
      args: [
        "-sS",
        "-L",
        "-o",
        join(scratch, "big.gguf"),
        `${hub.url}/bench/big/resolve/${commit}/big.gguf`,
      ],
    }).output();
    const curlSeconds = (performance.now() - curlStart) / 1000;
    if (!curl.success) throw new Error(new TextDecoder().decode(curl.stderr));

    const home = join(scratch, "home");
    await Deno.mkdir(home);
    const start = performance.now();
    const result = await runEdgellm(["bootstrap", "--hf-repo", "bench/big", "--revision", commit], {
      home,
      env: { HF_ENDPOINT: hub.url },
    });
    const seconds = (performance.now() - start) / 1000;
    if (result.code !== 0) throw new Error(result.stderr);
    print("download_throughput", size / MiB / seconds, size / MiB / curlSeconds, "MiB/s");
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

async function resumeWaste(hub: FakeHub, size: number): Promise<void> {
  const commit = hub.commit("bench/resume", [{ path: "m.gguf", content: fakeBytes(size, 5) }]);
  const home = await Deno.makeTempDir();
  try {
    const env = { HF_ENDPOINT: hub.url };
    const args = ["bootstrap", "--hf-repo", "bench/resume", "--revision", commit];
    hub.faults.throttleBytesPerSec = size / 4;
    const before = hub.counters.bodyBytes;
    const child = await spawnEdgellm(args, { home, env });
    const partial = join(home, "hub", "models--bench--resume", "blobs");
    await waitFor(async () => {
      try {
        for await (const entry of Deno.readDir(partial)) {
          if (entry.name.endsWith(".incomplete")) {
            return (await Deno.stat(join(partial, entry.name))).size >= size / 2;
          }
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      return false;
    }, { what: "half the file" });
    child.kill("SIGKILL");
    await child.output();
    const beforeKill = hub.counters.bodyBytes - before;
    hub.faults.throttleBytesPerSec = 0;
    const rerun = await runEdgellm(args, { home, env });
    if (rerun.code !== 0) throw new Error(rerun.stderr);
    const wasted = hub.counters.bodyBytes - before - size;
    print("resume_waste", wasted, beforeKill, "bytes");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

if (import.meta.main) {
  await using hub = FakeHub.start();
  await throughput(hub, 512 * MiB);
  await resumeWaste(hub, 4 * MiB);
}
