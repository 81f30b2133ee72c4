/**
 * Bootstrapper benchmarks, each against a baseline in the same run:
 *
 * - `download_throughput`: `edgellm bootstrap` (the real CLI under its permission flags,
 *   hashing, checkpointing; process start included) vs `curl -L` fetching the same file from
 *   the same local fake hub; the median of three runs each.
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Runs of each side; the median is reported (this machine's timings are noisy). */
const RUNS = 3;

async function throughput(hub: FakeHub, size: number): Promise<void> {
  const commit = hub.commit("bench/big", [{ path: "big.gguf", content: repeated(size) }]);
  const url = `${hub.url}/bench/big/resolve/${commit}/big.gguf`;
  const scratch = await Deno.makeTempDir();
  try {
    // Warm-up: Deno's module cache and the page cache, so neither side pays a first-run cost.
    await runEdgellm(["version"], { home: scratch });
    const curl: number[] = [];
    const ours: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const target = join(scratch, `curl-${run}.gguf`);
      let start = performance.now();
      const output = await new Deno.Command("curl", { args: ["-sS", "-L", "-o", target, url] })
        .output();
      curl.push((performance.now() - start) / 1000);
      if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
      await Deno.remove(target);

      const home = join(scratch, `home-${run}`);
      await Deno.mkdir(home);
      start = performance.now();
      const result = await runEdgellm(
        ["bootstrap", "--hf-repo", "bench/big", "--revision", commit],
        { home, env: { HF_ENDPOINT: hub.url } },
      );
      ours.push((performance.now() - start) / 1000);
      if (result.code !== 0) throw new Error(result.stderr);
      await Deno.remove(home, { recursive: true });
    }
    print(
      "download_throughput",
      size / MiB / median(ours),
      size / MiB / median(curl),
      "MiB/s",
    );
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

async function resumeWaste(hub: FakeHub, size: number): Promise<void> {
  const commit = hub.commit("bench/resume", [{ path: "m.gguf", content: fakeBytes(size, 5) }]);
  const env = { HF_ENDPOINT: hub.url };
  const args = ["bootstrap", "--hf-repo", "bench/resume", "--revision", commit];
  let wasted = 0;
  let lost = 0;
  // One kill at a quarter, a half and three quarters of the file, each on a fresh home, when
  // the server has sent that much: points unrelated to the client's flushes and checkpoints.
  for (const fraction of [0.25, 0.5, 0.75]) {
    const home = await Deno.makeTempDir();
    try {
      hub.faults.throttleBytesPerSec = size / 4;
      const before = hub.counters.bodyBytes;
      const child = await spawnEdgellm(args, { home, env });
      await waitFor("the kill point", () => hub.counters.bodyBytes - before >= size * fraction);
      child.kill("SIGKILL");
      await child.output();
      // A downloader without resume fetches all of it again.
      lost += hub.counters.bodyBytes - before;
      hub.faults.throttleBytesPerSec = 0;
      const rerun = await runEdgellm(args, { home, env });
      if (rerun.code !== 0) throw new Error(rerun.stderr);
      wasted += hub.counters.bodyBytes - before - size;
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  }
  print("resume_waste", wasted, lost, "bytes");
}

if (import.meta.main) {
  await using hub = FakeHub.start();
  await throughput(hub, 512 * MiB);
  await resumeWaste(hub, 4 * MiB);
}
